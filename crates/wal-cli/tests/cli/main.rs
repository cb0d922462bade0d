//! Tests of the `wal` binary, one module per topic. One test binary for all
//! of them keeps link time down.

mod support;

mod checkpoint;
mod create_race;
mod dump;
mod dump_bytes;
mod errors;
mod formats;
mod help;
mod load;
mod put_get_delete;
mod repair;
mod verify;
