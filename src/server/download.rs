//! The `download` command: the `150` head, the payload from the kernel's
//! zero-copy path, then `226`; a short send ends the connection, since
//! the framing is lost.

use crate::proto::body::DownloadHead;
use crate::proto::{Code, Reply};
use crate::server::error::Replied;
use crate::server::handler::{Cx, Handled, Outcome};
use crate::service::login::Login;
use crate::storage::staging::Download;

pub(crate) fn download(cx: &mut Cx, login: &Login, text: &str, offset: u64) -> Handled {
    let sums = &cx.shared.sums;
    let opened = login.resolve(text).and_then(|(tree, path)| Download::open(tree, sums, &path, offset));
    let mut down = match opened {
        Ok(d) => d,
        Err(e) => {
            cx.log(&login.user, "download", &login.shown(text), e.outcome(), 0);
            return Ok(e.reply().into());
        }
    };
    let (size, md5) = (down.size, down.md5);
    if cx.wire.send(&Reply::new(Code::Payload, DownloadHead { size, md5, offset }.to_string())).is_err() {
        return Ok(Outcome::Close);
    }
    let want = size - offset;
    match cx.wire.send_file(&mut down.file, want) {
        n if n == want => {
            cx.log(&login.user, "download", &login.shown(text), 226, n);
            Ok(Reply::new(Code::TransferDone, "transfer complete").into())
        }
        // The file shrank under us or the client went away: the framing
        // is lost, so the connection ends.
        n => {
            cx.log(&login.user, "download", &login.shown(text), "interrupted", n);
            Ok(Outcome::Close)
        }
    }
}
