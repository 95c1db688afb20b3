//! The netdisk server binary: flags -> Config -> Server::bind -> run, or
//! `netdisk user ...` (account administration, see `server::admin`).

use std::io::Write;
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
    let server = match Server::bind(config) {
        Ok(s) => s,
        Err(e) => {
            // The error names what it is about: the data directory or the address.
            eprintln!("netdisk: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let addr = server.local_addr().map_or("?".into(), |a| a.to_string());
    println!("listening on {addr}");
    let _ = std::io::stdout().flush();
    log::server("start", format!("listening on {addr}, data {data}"));
    server.run();
    ExitCode::SUCCESS
}
