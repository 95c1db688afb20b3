//! The wire format, both directions: the only place protocol text is
//! written or parsed.
//!
//! - [`code`]: reply codes, one table
//! - [`request`]: request lines into [`Command`]s and back; the command
//!   table that drives parsing, usage errors and `help`
//! - [`reply`]: [`Reply`] lines and status-line parsing
//! - [`body`]: the typed text of fixed-form replies (offer, stat, list...)
//!
//! Handlers never see raw request strings and never write a reply code by
//! hand; the server and the client library share these types, so the two
//! cannot drift apart.

pub mod body;
pub mod code;
pub mod reply;
pub mod request;

pub use code::Code;
pub use reply::{Reply, parse_status};
pub use request::{
    COMMANDS, Command, EncodeError, MAX_LINE, MAX_SHARE_DAYS, ParseError, Password, Purge, Spec, check_field,
    help_lines, number, parse_line, quote, spec_of, split_words,
};
