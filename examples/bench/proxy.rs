//! A delay proxy: forwards each connection to a target, holding every
//! chunk for a fixed one-way delay in each direction, in order, so a
//! loopback server looks like one across a link with that round trip.
//! std only: per connection and direction, one thread reads and stamps
//! chunks, one thread writes each at its time. Bandwidth is not limited.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::thread;
use std::time::{Duration, Instant};

/// Chunks held in one direction at most (each up to `CHUNK` bytes): the
/// proxy's buffer, so a slow receiver pushes back on the sender.
const IN_FLIGHT: usize = 512;
const CHUNK: usize = 128 << 10;

/// A running proxy; it lives until the process ends.
pub struct Proxy {
    pub addr: String,
}

/// Starts a proxy to `target` with `one_way` delay each direction.
pub fn start(target: &str, one_way: Duration) -> Proxy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
    let addr = listener.local_addr().expect("proxy address").to_string();
    let target: SocketAddr = target.parse().expect("proxy target");
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            if let Ok(server) = TcpStream::connect(target) {
                join(client, server, one_way);
            }
        }
    });
    Proxy { addr }
}

fn join(a: TcpStream, b: TcpStream, one_way: Duration) {
    let _ = a.set_nodelay(true);
    let _ = b.set_nodelay(true);
    let (a2, b2) = match (a.try_clone(), b.try_clone()) {
        (Ok(a2), Ok(b2)) => (a2, b2),
        _ => return,
    };
    pump(a, b2, one_way);
    pump(b, a2, one_way);
}

/// A chunk read: when it came, the buffer and how many bytes of it.
type Chunk = (Instant, Vec<u8>, usize);

/// Bytes read from `from` are written to `to` `one_way` after they came.
/// Buffers go back from the writer to the reader to be read into again:
/// a fresh allocation per chunk costs a page fault per page on this VM.
fn pump(from: TcpStream, to: TcpStream, one_way: Duration) {
    let (tx, rx) = sync_channel(IN_FLIGHT);
    let (back_tx, back_rx) = channel();
    let named = |name: &str| thread::Builder::new().name(name.into());
    let _ = named("proxy-read").spawn(move || read_side(from, tx, back_rx));
    let _ = named("proxy-write").spawn(move || write_side(to, rx, back_tx, one_way));
}

fn read_side(mut from: TcpStream, tx: SyncSender<Chunk>, back: Receiver<Vec<u8>>) {
    loop {
        let mut buf = back.try_recv().unwrap_or_else(|_| vec![0u8; CHUNK]);
        match from.read(&mut buf) {
            Ok(n) if n > 0 => {
                if tx.send((Instant::now(), buf, n)).is_err() {
                    break;
                }
            }
            _ => break,
        }
    }
    // Dropping `tx` tells the writer: end of stream after what is queued.
}

fn write_side(mut to: TcpStream, rx: Receiver<Chunk>, back: Sender<Vec<u8>>, one_way: Duration) {
    for (came, buf, n) in rx {
        let due = came + one_way;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
        let _ = back.send(buf);
    }
    let _ = to.shutdown(Shutdown::Write);
}
