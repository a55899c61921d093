//! The runner's library entry point with a stack the caller keeps changing:
//! /proc/net is re-rendered every --refresh-ms, and netlink answers read
//! the stack at the time of the request. Root: skipped with a reason
//! otherwise, a failure under CI=true. In its own test binary, since `run`
//! installs process-wide signal dispositions.

#[path = "../../tests/support/root.rs"]
mod root;

use netstack::RouteSpec;
use sandnet_run::config::Config;
use sandnet_run::{netlink_factory, parse_args, run};
use std::time::Duration;

#[test]
fn a_changing_stack_is_seen_by_the_running_program() {
    let test = "a_changing_stack_is_seen_by_the_running_program";
    if !root::have_root(test) {
        return;
    }
    let (stack, _peers) = Config::parse("addr eth0 10.0.0.2/24\n")
        .unwrap()
        .build()
        .unwrap();
    let out = std::env::temp_dir().join(format!("snr-live-{}.out", std::process::id()));
    // Before: the route and address are not there; after the change (made
    // 0.5 s in), they are, within --refresh-ms (100 ms) for /proc/net.
    let script = format!(
        "grep -c 0032A8C0 /proc/net/route > {o}; ip -o -4 addr show dev eth0 | wc -l >> {o}; \
         sleep 1.5; grep -c 0032A8C0 /proc/net/route >> {o}; ip -o -4 addr show dev eth0 | wc -l >> {o}",
        o = out.display()
    );
    let args: Vec<String> = ["--refresh-ms", "100", "--", "sh", "-c", &script]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let opts = parse_args(&args).unwrap();
    let changer = {
        let stack = stack.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            let eth0 = stack.ifindex("eth0").unwrap();
            stack
                .add_route(RouteSpec::new("192.168.50.0".parse().unwrap(), 24).dev(eth0))
                .unwrap();
            stack
                .add_address(eth0, "10.0.0.3".parse().unwrap(), 24)
                .unwrap();
        })
    };
    let status = run(&stack, netlink_factory(stack.clone()), &opts).unwrap();
    changer.join().unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(status, 0, "{text}");
    assert_eq!(
        text, "0\n1\n1\n2\n",
        "route count, address count; before, after"
    );
}
