//! tun_demo's command line, and what it says when it cannot run here.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

pub const USAGE: &str = "\
usage: tun_demo [OPTIONS]

Creates a TUN device, gives its host side an address, and runs a sandnet
stack behind it that answers ping, echoes TCP and UDP on port 7 and serves
its own /proc/net over HTTP on port 80 (try: curl http://10.233.0.2/proc/net/tcp).
Needs root (CAP_NET_ADMIN) and /dev/net/tun.

options:
  --dev NAME          TUN device name (default sandnet0)
  --host4 ADDR/LEN    host side IPv4 address (default 10.233.0.1/24)
  --host6 ADDR/LEN    host side IPv6 address (default fd00:233::1/64)
  --stack4 ADDR/LEN   stack IPv4 address (default 10.233.0.2/24)
  --stack6 ADDR/LEN   stack IPv6 address (default fd00:233::2/64)
  --duration SECS     stop after SECS seconds (default: run until Ctrl-C)
  --quiet             no live status line (for scripts and logs)
  --help              this text
";

/// An address with its prefix length, as `ip addr` writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl Cidr {
    fn parse(s: &str, v6: bool) -> Result<Cidr, String> {
        let (a, l) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: expected ADDR/LEN"))?;
        let addr: IpAddr = a.parse().map_err(|_| format!("{a:?}: not an address"))?;
        if addr.is_ipv6() != v6 {
            let family = if v6 { "IPv6" } else { "IPv4" };
            return Err(format!("{a}: not an {family} address"));
        }
        let max = if v6 { 128 } else { 32 };
        let prefix_len = l
            .parse::<u8>()
            .ok()
            .filter(|&n| (1..=max).contains(&n))
            .ok_or_else(|| format!("{l:?}: prefix length must be 1..={max}"))?;
        Ok(Cidr { addr, prefix_len })
    }

    /// Whether `other` lies in this address's prefix.
    fn contains(&self, other: IpAddr) -> bool {
        let bits = |a: IpAddr| -> u128 {
            match a {
                IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
                IpAddr::V6(v) => u128::from(v),
            }
        };
        // IPv4 addresses sit in the top 32 bits, so one mask serves both.
        let keep = u128::MAX << (128 - u32::from(self.prefix_len));
        self.addr.is_ipv4() == other.is_ipv4() && bits(self.addr) & keep == bits(other) & keep
    }

    pub fn v4(&self) -> Ipv4Addr {
        match self.addr {
            IpAddr::V4(a) => a,
            IpAddr::V6(_) => unreachable!("checked by parse"),
        }
    }

    pub fn v6(&self) -> Ipv6Addr {
        match self.addr {
            IpAddr::V6(a) => a,
            IpAddr::V4(_) => unreachable!("checked by parse"),
        }
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub dev: String,
    pub host4: Cidr,
    pub host6: Cidr,
    pub stack4: Cidr,
    pub stack6: Cidr,
    pub duration: Option<Duration>,
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        let cidr = |s: &str, v6| Cidr::parse(s, v6).expect("a valid default");
        Options {
            dev: "sandnet0".into(),
            host4: cidr("10.233.0.1/24", false),
            host6: cidr("fd00:233::1/64", true),
            stack4: cidr("10.233.0.2/24", false),
            stack6: cidr("fd00:233::2/64", true),
            duration: None,
            quiet: false,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run(Options),
    Help,
}

/// A device name the kernel accepts (dev_valid_name): 1 to 15 bytes, not
/// `.` or `..`, no `/`, `:` or whitespace. `%` is refused too: a template
/// would make the kernel pick the name, and the demo prints the one it asked for.
pub fn check_dev_name(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c == '%' || c.is_whitespace() || c == '\0');
    if bad {
        Err(format!(
            "{name:?} is not a valid device name (1 to 15 characters, none of / : % or spaces)"
        ))
    } else {
        Ok(())
    }
}

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(flag) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{flag} needs {what}"));
        match flag.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--quiet" | "-q" => o.quiet = true,
            "--dev" => o.dev = value("a device name")?,
            "--host4" => o.host4 = Cidr::parse(&value("ADDR/LEN")?, false)?,
            "--host6" => o.host6 = Cidr::parse(&value("ADDR/LEN")?, true)?,
            "--stack4" => o.stack4 = Cidr::parse(&value("ADDR/LEN")?, false)?,
            "--stack6" => o.stack6 = Cidr::parse(&value("ADDR/LEN")?, true)?,
            "--duration" => {
                let v = value("a number of seconds")?;
                let secs = v
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0 && *s <= 1e9)
                    .ok_or_else(|| format!("--duration {v:?}: expected seconds > 0"))?;
                o.duration = Some(Duration::from_secs_f64(secs));
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    check_dev_name(&o.dev)?;
    for (host, stack) in [(o.host4, o.stack4), (o.host6, o.stack6)] {
        if host.addr == stack.addr {
            return Err(format!("host and stack both have {}", host.addr));
        }
        // The stack's default route goes via the host side: it must be on-link.
        if !stack.contains(host.addr) {
            return Err(format!(
                "host side {} is not in the stack's prefix {stack}",
                host.addr
            ));
        }
    }
    Ok(Command::Run(o))
}

/// What the demo was doing when it failed to set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Opening /dev/net/tun and creating the device.
    CreateTun,
    /// Configuring the host side's IPv4 address or bringing it up.
    HostV4,
    /// Giving the host side its IPv6 address.
    HostV6,
    /// Building the stack behind the device.
    Stack,
}

/// The short explanation printed when setup fails (the demo then exits 2).
/// `euid` is the effective uid, `tun_present` whether /dev/net/tun exists.
pub fn explain(step: Step, err: &io::Error, dev: &str, euid: u32, tun_present: bool) -> String {
    let code = err.raw_os_error().unwrap_or(0);
    let needs = "tun_demo needs root (CAP_NET_ADMIN): it creates a TUN device and gives \
                 its host side addresses, which only a privileged process may do.\n\
                 Run it as: sudo cargo run --release --example tun_demo";
    if !tun_present {
        return "tun_demo cannot run here: /dev/net/tun is missing, so no TUN device can be created.\n\
             Load the driver (modprobe tun) or, in a container, pass the device in \
             (docker run --device /dev/net/tun --cap-add NET_ADMIN ...)."
            .to_string();
    }
    match (step, code) {
        (_, libc::EPERM) | (Step::CreateTun, libc::EACCES) => {
            let who = if euid == 0 {
                "running as root, but without CAP_NET_ADMIN (a restricted container?)".to_string()
            } else {
                format!("running as uid {euid}, not root")
            };
            format!("{needs}\n({who}: {err})")
        }
        (Step::CreateTun, libc::EBUSY | libc::EEXIST | libc::EINVAL) => format!(
            "tun_demo cannot create the TUN device {dev}: {err}.\n\
             Another device already has that name; pick another with --dev NAME."
        ),
        (Step::CreateTun, libc::ENOENT | libc::ENODEV | libc::ENXIO) => format!(
            "tun_demo cannot run here: the TUN driver is not available ({err}).\n\
             Load it with: modprobe tun"
        ),
        (Step::HostV6, libc::EACCES) => format!(
            "tun_demo cannot give {dev} its IPv6 address: {err}.\n\
             IPv6 looks disabled on this host (sysctl net.ipv6.conf.all.disable_ipv6)."
        ),
        (Step::HostV4, _) => format!("tun_demo cannot configure {dev}'s IPv4 side: {err}"),
        (Step::HostV6, _) => format!("tun_demo cannot give {dev} its IPv6 address: {err}"),
        (Step::CreateTun, _) => format!("tun_demo cannot create the TUN device {dev}: {err}"),
        (Step::Stack, _) => format!("tun_demo cannot build the stack: {err}"),
    }
}
