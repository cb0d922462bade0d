//! `test_crash_mid_write`: crash drill 2 of week 9 (lesson w09-l08).
//! Everything but argument handling lives in the library.

fn main() -> std::process::ExitCode {
    drill::main::<w09_l08::CrashMidWrite>()
}
