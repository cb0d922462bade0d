//! `test_crash_after_wal`: crash drill 1 of week 9 (lesson w09-l07).
//! Everything but argument handling lives in the library.

fn main() -> std::process::ExitCode {
    drill::main::<w09_l07::CrashAfterWal>()
}
