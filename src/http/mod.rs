//! The HTTP face (issue 21 builds it); WebDAV lives in [`dav`].

pub mod dav;
