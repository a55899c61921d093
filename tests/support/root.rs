//! Gate for tests that need root: they skip with a printed reason when not
//! root, and fail instead under CI (CI=true), so nothing silently stops being tested.

pub fn have_root(test: &str) -> bool {
    // SAFETY-free: reading the effective uid through /proc keeps tests free of unsafe.
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2).unwrap_or("").to_string())
        })
        .unwrap_or_default();
    let tun = std::path::Path::new("/dev/net/tun").exists();
    if euid == "0" && tun {
        return true;
    }
    let why = if euid != "0" {
        "not running as root"
    } else {
        "/dev/net/tun is missing"
    };
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: needs root and /dev/net/tun, and CI=true forbids skipping: {why}");
    }
    eprintln!("SKIPPED {test}: needs root and /dev/net/tun ({why})");
    false
}
