//! `wal serve DIR`: the reference store, speaking the store protocol on
//! stdin and stdout (the store the drills test by default).

use std::io;
use std::path::PathBuf;

use anyhow::Context;

use crate::exit::Exit;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The store's directory (created when missing); its log is DIR/wal.log.
    pub dir: PathBuf,
}

pub const EXAMPLES: &str = "\
Examples:
  wal serve /tmp/store           then type: PUT a 1, GET a, WALPUT b 2, CRASH
  printf 'PUT a 1\\nGET a\\n' | wal serve /tmp/store
  cargo run -p w09-l08 -- --store \"wal serve\"   (the drill appends DIR)

Requests (one per line; replies one per line on stdout):
  PUT k v -> OK    DEL k -> OK    GET k -> VALUE v | NOT_FOUND
  WALPUT k v -> OK (logged and fsync'd, not applied)    CRASH (exit 1 at once)
See docs/store-protocol.md.";

pub fn run(args: &ServeArgs) -> anyhow::Result<Exit> {
    store_protocol::serve(
        &args.dir,
        io::stdin().lock(),
        io::stdout().lock(),
        io::stderr(),
    )
    .with_context(|| format!("{}: serving the reference store", args.dir.display()))?;
    Ok(Exit::Success)
}
