//! WebDAV at `/dav/` (RFC 4918 classes 1 and 2, RFC 4331 quota).

pub mod xml;
