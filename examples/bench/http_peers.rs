//! The peers of the HTTP rows: nginx serving files with `sendfile on`
//! (a private configuration on a free loopback port, never the system's
//! service), and a null tus server that takes a tus client's bytes and
//! throws them away (to time the client alone). Both are killed when
//! dropped, on every exit path of the bench.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;

use crate::peers::{find, free_port, wait_listening};

/// An nginx of the bench's own, serving `root` on `addr`.
pub struct Nginx {
    child: Child,
    pub addr: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nginx {
    /// One process (no master, no daemon), its files in `dir`; `None`
    /// when nginx is not installed or does not come up.
    pub fn start(dir: &Path, root: &Path) -> Option<Nginx> {
        let bin = find("nginx")?;
        fs::create_dir_all(dir).ok()?;
        let port = free_port();
        let conf = dir.join("nginx.conf");
        fs::write(&conf, nginx_conf(dir, root, port)).ok()?;
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let nginx = Nginx { child, addr: format!("127.0.0.1:{port}") };
        wait_listening(&nginx.addr).then_some(nginx)
    }
}

fn nginx_conf(dir: &Path, root: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  default_type application/octet-stream;\n  \
         client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n  \
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
         server {{ listen 127.0.0.1:{port}; root {}; }}\n}}\n",
        root.display()
    )
}

/// A tus server that answers every request at once and discards the
/// bytes: what a tus client can send when the server costs nothing.
pub struct NullTus {
    pub url: String,
}

impl NullTus {
    /// Lives until the process ends (its threads block in `accept`).
    pub fn start() -> NullTus {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the null tus server");
        let url = format!("http://{}/tus/", listener.local_addr().expect("address"));
        thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                thread::spawn(move || null_tus_conn(conn));
            }
        });
        NullTus { url }
    }
}

/// Serves one connection: `POST` creates, `PATCH` takes its body,
/// `HEAD` tells the offset (each request's own, as the client sent it).
fn null_tus_conn(conn: TcpStream) {
    let mut out = conn.try_clone().expect("clone");
    let mut reader = BufReader::with_capacity(1 << 20, conn);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) if line == "\r\n" => break,
                Ok(_) => head.push(line.trim_end().to_string()),
            }
        }
        let field = |name: &str| {
            let found = head.iter().find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)));
            found.and_then(|(_, v)| v.trim().parse::<u64>().ok()).unwrap_or(0)
        };
        let (length, offset) = (field("content-length"), field("upload-offset"));
        if std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink()).ok() != Some(length) {
            return;
        }
        let status = match head.first().map(|l| l.split(' ').next().unwrap_or("")) {
            Some("POST") => "201 Created\r\nLocation: /tus/1",
            Some("PATCH") => "204 No Content",
            _ => "200 OK",
        };
        let reply = format!(
            "HTTP/1.1 {status}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {}\r\nContent-Length: 0\r\n\r\n",
            offset + length
        );
        if out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}
