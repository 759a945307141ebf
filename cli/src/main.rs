//! The `iollm` binary: everything lives in the `iollm_cli` library.

fn main() -> std::process::ExitCode {
    iollm_cli::run()
}
