//! Reply codes: one table gives each code its number, its name and what it
//! means; the enum, [`Code::ALL`] and [`Code::from_number`] all come from
//! it, so no second list can fall out of step.

/// Declares [`Code`] and [`Code::ALL`] from one table of
/// `doc, Name = number`.
macro_rules! codes {
    ($( $(#[doc = $doc:expr])+ $name:ident = $number:literal, )+) => {
        /// A reply code of the protocol, one variant per code of the contract.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u16)]
        pub enum Code {
            $( $(#[doc = $doc])+ $name = $number, )+
        }

        impl Code {
            /// Every code of the protocol, in ascending order.
            pub const ALL: &'static [Code] = &[$(Code::$name),+];
        }
    };
}

codes! {
    /// A payload follows (download) or is expected (upload).
    Payload = 150,
    /// Done; for `share`, the first word of the text is the result.
    Done = 200,
    /// A user was registered.
    Registered = 201,
    /// A listing: as many lines follow as the first word says.
    Listing = 212,
    /// Status of a file or of the user's quota.
    Status = 213,
    /// Help: as many lines follow as the first word says.
    Help = 214,
    /// Greeting.
    Ready = 220,
    /// Bye; the server closes the connection.
    Bye = 221,
    /// A transfer completed.
    TransferDone = 226,
    /// Logged in.
    LoggedIn = 230,
    /// A file action (cd, rm, rmdir, mv) was done.
    ActionDone = 250,
    /// A path (pwd, makedir, makedirs, restore, save).
    Path = 257,
    /// Proof needed: answer the challenge with one line (`claim`).
    ProofNeeded = 350,
    /// The server closes the connection.
    Closing = 421,
    /// The target is being uploaded by another session.
    Busy = 450,
    /// Local I/O error on the server.
    LocalError = 451,
    /// The server's disk is full.
    StorageFull = 452,
    /// Syntax error, unknown command, line too long.
    Syntax = 500,
    /// Bad arguments: count, number format, offset out of range.
    BadArgs = 501,
    /// Not logged in, or login failed.
    NotLoggedIn = 530,
    /// Not found, exists already, wrong type, not empty.
    Unavailable = 550,
    /// Quota or file-size limit exceeded.
    Quota = 552,
    /// Name not allowed.
    BadName = 553,
    /// The received file's MD5 differs from the announced one.
    Mismatch = 554,
}

impl Code {
    /// The three-digit number.
    pub fn number(self) -> u16 {
        self as u16
    }

    /// The code for a number, if the protocol has one.
    pub fn from_number(n: u16) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.number() == n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_three_digits_and_one_number() {
        for (i, code) in Code::ALL.iter().enumerate() {
            assert!((100..600).contains(&code.number()), "{code:?}");
            assert_eq!(Code::from_number(code.number()), Some(*code));
            assert!(i == 0 || Code::ALL[i - 1].number() < code.number(), "ascending, no duplicate");
        }
        assert_eq!(Code::from_number(554), Some(Code::Mismatch));
        assert_eq!(Code::from_number(299), None);
    }
}
