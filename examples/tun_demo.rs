//! Placeholder until the demo's own issue lands: it says so and exits.
fn main() {
    eprintln!("tun_demo has not landed yet: see README.md for what works today.");
    std::process::exit(2);
}
