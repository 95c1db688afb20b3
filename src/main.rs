//! The netdisk server binary: flags -> Config -> Server::bind -> run, or
//! `netdisk user ...` (account administration, see `server::admin`).

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;

use netdisk::log;
use netdisk::server::admin;
use netdisk::service::config::{self, Parsed, USAGE};
use netdisk::{Config, Server};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if admin::wants(&args) {
        return admin::run(&args, |k| std::env::var(k).ok());
    }
    let config = match configure(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match start(config) {
        Ok(server) => {
            server.run();
            ExitCode::SUCCESS
        }
        Err(code) => code,
    }
}

/// The configuration the flags and the environment give; else how to
/// exit, once `--help`, `--version` or a usage error is printed.
fn configure(args: Vec<String>) -> Result<Config, ExitCode> {
    match config::parse(args, |k| std::env::var(k).ok()) {
        Ok(Parsed::Run(c)) => Ok(c),
        Ok(Parsed::Help) => {
            print!("{USAGE}");
            Err(ExitCode::SUCCESS)
        }
        Ok(Parsed::Version) => {
            println!("netdisk {}", env!("CARGO_PKG_VERSION"));
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("netdisk: {e}\n\n{USAGE}");
            Err(ExitCode::from(2))
        }
    }
}

/// Binds the text face and, with `--http`, the HTTP face; says where
/// they listen and starts HTTP's accept loop. The text face is returned
/// to be run; a failure to bind is printed.
fn start(config: Config) -> Result<Server, ExitCode> {
    let data = config.data.display().to_string();
    let (http_addr, public_url) = (config.http.clone(), config.public_url.clone());
    let server = Server::bind(config).map_err(|e| {
        // The error names what it is about: the data directory or the address.
        eprintln!("netdisk: cannot start: {e}");
        ExitCode::FAILURE
    })?;
    let addr = server.local_addr().map_or("?".into(), |a| a.to_string());
    let http = match http_addr.map(|a| TcpListener::bind(&a).map_err(|e| format!("cannot listen on {a}: {e}"))) {
        Some(Err(e)) => {
            eprintln!("netdisk: cannot start: HTTP: {e}");
            return Err(ExitCode::FAILURE);
        }
        Some(Ok(listener)) => Some(listener),
        None => None,
    };
    announce(&server, &addr, http.as_ref(), public_url);
    log::server("start", format!("listening on {addr}, data {data}"));
    if let Some(listener) = http {
        serve_http(&server, listener);
    }
    Ok(server)
}

/// Both addresses in the first lines of stdout, in one write (tests read
/// them); the base of share links set from the HTTP address.
fn announce(server: &Server, addr: &str, http: Option<&TcpListener>, public_url: Option<String>) {
    let mut first = format!("listening on {addr}\n");
    if let Some(listener) = http {
        let bound = listener.local_addr().map_or("?".into(), |a| a.to_string());
        first.push_str(&format!("http on {bound}\n"));
        let base = public_url.unwrap_or_else(|| listener.local_addr().map_or(String::new(), link_base));
        server.shared().set_link_base(base);
    }
    let _ = std::io::stdout().write_all(first.as_bytes()).and_then(|_| std::io::stdout().flush());
}

/// Serves HTTP on `listener` from the text face's shared state, on a
/// thread of its own.
fn serve_http(server: &Server, listener: TcpListener) {
    let shared = server.shared();
    let bound = listener.local_addr().map_or("?".into(), |a| a.to_string());
    log::server("start", format!("http on {bound}"));
    let _ =
        std::thread::Builder::new().name("http accept".into()).spawn(move || netdisk::http::serve(listener, shared));
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
