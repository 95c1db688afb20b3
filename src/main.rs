//! The netdisk server binary: flags -> Config -> Server::bind -> run, or
//! `netdisk user ...` (account administration, see `server::admin`).

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use netdisk::Server;
use netdisk::server::admin;
use netdisk::server::config::{self, Parsed, USAGE};
use netdisk::server::log;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if admin::wants(&args) {
        return admin::run(&args, |k| std::env::var(k).ok());
    }
    let parsed = config::parse(args, |k| std::env::var(k).ok());
    let config = match parsed {
        Ok(Parsed::Run(c)) => c,
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::Version) => {
            println!("netdisk {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("netdisk: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let data = config.data.display().to_string();
    let (http_addr, public_url) = (config.http.clone(), config.public_url.clone());
    let server = match Server::bind(config) {
        Ok(s) => s,
        Err(e) => {
            // The error names what it is about: the data directory or the address.
            eprintln!("netdisk: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr().map_or("?".into(), |a| a.to_string());
    let http = match http_addr.map(|a| TcpListener::bind(&a).map_err(|e| format!("cannot listen on {a}: {e}"))) {
        Some(Err(e)) => {
            eprintln!("netdisk: cannot start: HTTP: {e}");
            return ExitCode::FAILURE;
        }
        Some(Ok(listener)) => Some(listener),
        None => None,
    };
    // Both addresses in the first lines, in one write (tests read them).
    let mut first = format!("listening on {addr}\n");
    if let Some(listener) = &http {
        let bound = listener.local_addr().map_or("?".into(), |a| a.to_string());
        first.push_str(&format!("http on {bound}\n"));
        let base = public_url.unwrap_or_else(|| listener.local_addr().map_or(String::new(), link_base));
        server.shared().set_link_base(base);
    }
    let _ = std::io::stdout().write_all(first.as_bytes()).and_then(|_| std::io::stdout().flush());
    log::server("start", format!("listening on {addr}, data {data}"));
    if let Some(listener) = http {
        let shared = server.shared();
        let bound = listener.local_addr().map_or("?".into(), |a| a.to_string());
        log::server("start", format!("http on {bound}"));
        let _ = std::thread::Builder::new()
            .name("http accept".into())
            .spawn(move || netdisk::http::serve(listener, shared));
    }
    server.run();
    ExitCode::SUCCESS
}

/// `http://` + the HTTP address, an unspecified address (`0.0.0.0`, `::`)
/// replaced by the machine's host name.
fn link_base(bound: SocketAddr) -> String {
    if !bound.ip().is_unspecified() {
        return format!("http://{bound}");
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let host = if host.is_empty() { "localhost" } else { host };
    format!("http://{host}:{}", bound.port())
}
