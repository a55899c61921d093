//! `sandnet-run [options] -- COMMAND ARGS...`: see the library's docs and docs/RUNNER.md.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(sandnet_run::main_with_args(&args));
}
