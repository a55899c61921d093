//! The network a program is shown: interfaces, addresses and routes, from a
//! configuration file and/or command-line flags, built into a `Stack`.
//!
//! File format, one statement per line (`#` starts a comment):
//! ```text
//! nic eth0 [mtu 1400] [down]
//! addr eth0 10.0.0.2/24
//! route default via 10.0.0.1 [dev eth0] [metric 100] [src 10.0.0.2]
//! route 192.168.50.0/24 dev eth0 metric 5
//! route -6 default via fd00:1::1
//! ```
//! A NIC is created (an in-memory link, up) the first time a statement names
//! it; statements apply in order, and `down` is applied after everything else
//! (taking a NIC down flushes its routes, as in Linux). The flags
//! `--addr IF=ADDR/PLEN`, `--route "SPEC"`, `--mtu IF=N` and `--nic IF` are
//! the same statements.

use netstack::{Link, RouteSpec, Stack};
use std::fmt;
use std::net::IpAddr;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    Nic {
        name: String,
        mtu: Option<u32>,
        down: bool,
    },
    Addr {
        nic: String,
        addr: IpAddr,
        prefix_len: u8,
    },
    Route {
        spec: RouteSpec,
        dev: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ConfigError> {
    Err(ConfigError(msg.into()))
}

/// A network description: statements in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    pub stmts: Vec<Stmt>,
}

fn parse_prefix(s: &str) -> Result<(IpAddr, u8), ConfigError> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: IpAddr = a
        .parse()
        .map_err(|_| ConfigError(format!("not an address: {a:?}")))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let plen = match p {
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| ConfigError(format!("bad prefix length in {s:?}")))?,
        None => max,
    };
    Ok((addr, plen))
}

fn parse_ip(s: &str) -> Result<IpAddr, ConfigError> {
    s.parse()
        .map_err(|_| ConfigError(format!("not an address: {s:?}")))
}

fn parse_u32(s: &str) -> Result<u32, ConfigError> {
    s.parse()
        .map_err(|_| ConfigError(format!("not a number: {s:?}")))
}

fn check_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.len() > 15 || name.contains(['/', ' ', '=']) {
        return err(format!("bad interface name {name:?}"));
    }
    Ok(())
}

/// `route` arguments: `[-6] DST|default [via GW] [dev IF] [metric N] [src ADDR]`.
pub fn parse_route(words: &[&str]) -> Result<Stmt, ConfigError> {
    let mut w = words;
    let mut v6 = false;
    if w.first() == Some(&"-6") {
        v6 = true;
        w = &w[1..];
    } else if w.first() == Some(&"-4") {
        w = &w[1..];
    }
    let Some((&dst, mut rest)) = w.split_first() else {
        return err("route: a destination is missing");
    };
    let mut via = None;
    let mut dev = None;
    let mut metric = None;
    let mut src = None;
    while let [key, value, tail @ ..] = rest {
        match *key {
            "via" => via = Some(parse_ip(value)?),
            "dev" => dev = Some(value.to_string()),
            "metric" => metric = Some(parse_u32(value)?),
            "src" => src = Some(parse_ip(value)?),
            k => return err(format!("route: unknown keyword {k:?}")),
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return err(format!("route: {:?} needs a value", rest[0]));
    }
    let mut spec = if dst == "default" {
        if v6 || via.is_some_and(|g| g.is_ipv6()) {
            RouteSpec::default_v6()
        } else {
            RouteSpec::default_v4()
        }
    } else {
        let (a, p) = parse_prefix(dst)?;
        RouteSpec::new(a, p)
    };
    if let Some(g) = via {
        spec = spec.via(g);
    }
    if let Some(m) = metric {
        spec = spec.metric(m);
    }
    if let Some(s) = src {
        spec = spec.src(s);
    }
    if let Some(d) = &dev {
        check_name(d)?;
    }
    Ok(Stmt::Route { spec, dev })
}

fn parse_line(line: &str) -> Result<Option<Stmt>, ConfigError> {
    let line = line.split('#').next().unwrap_or("").trim();
    let words: Vec<&str> = line.split_whitespace().collect();
    let Some((&kind, args)) = words.split_first() else {
        return Ok(None);
    };
    match kind {
        "nic" => {
            let Some((&name, mut rest)) = args.split_first() else {
                return err("nic: a name is missing");
            };
            check_name(name)?;
            let (mut mtu, mut down) = (None, false);
            while let Some((&k, tail)) = rest.split_first() {
                match (k, tail.first()) {
                    ("mtu", Some(v)) => {
                        mtu = Some(parse_u32(v)?);
                        rest = &tail[1..];
                    }
                    ("down", _) => {
                        down = true;
                        rest = tail;
                    }
                    ("up", _) => rest = tail,
                    _ => return err(format!("nic: unknown keyword {k:?}")),
                }
            }
            Ok(Some(Stmt::Nic {
                name: name.to_string(),
                mtu,
                down,
            }))
        }
        "addr" => match args {
            [nic, prefix] => {
                check_name(nic)?;
                let (addr, prefix_len) = parse_prefix(prefix)?;
                Ok(Some(Stmt::Addr {
                    nic: nic.to_string(),
                    addr,
                    prefix_len,
                }))
            }
            _ => err("addr: expected `addr IF ADDR/PLEN`"),
        },
        "route" => parse_route(args).map(Some),
        k => err(format!("unknown statement {k:?}")),
    }
}

impl Config {
    /// Parses a configuration file's text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        for (i, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some(s)) => c.stmts.push(s),
                Ok(None) => {}
                Err(e) => return err(format!("line {}: {e}", i + 1)),
            }
        }
        Ok(c)
    }

    /// `--addr IF=ADDR/PLEN`.
    pub fn add_addr_flag(&mut self, v: &str) -> Result<(), ConfigError> {
        let Some((nic, prefix)) = v.split_once('=') else {
            return err(format!("--addr {v:?}: expected IF=ADDR/PLEN"));
        };
        let s = parse_line(&format!("addr {nic} {prefix}"))?.expect("a statement");
        self.stmts.push(s);
        Ok(())
    }

    /// `--route "SPEC"`.
    pub fn add_route_flag(&mut self, v: &str) -> Result<(), ConfigError> {
        let words: Vec<&str> = v.split_whitespace().collect();
        self.stmts.push(parse_route(&words)?);
        Ok(())
    }

    /// `--mtu IF=N`.
    pub fn add_mtu_flag(&mut self, v: &str) -> Result<(), ConfigError> {
        let Some((nic, mtu)) = v.split_once('=') else {
            return err(format!("--mtu {v:?}: expected IF=N"));
        };
        let s = parse_line(&format!("nic {nic} mtu {mtu}"))?.expect("a statement");
        self.stmts.push(s);
        Ok(())
    }

    /// `--nic IF`.
    pub fn add_nic_flag(&mut self, v: &str) -> Result<(), ConfigError> {
        let s = parse_line(&format!("nic {v}"))?.expect("a statement");
        self.stmts.push(s);
        Ok(())
    }

    /// Builds the stack. Every NIC is an in-memory link whose other end is
    /// returned, to be kept for as long as the stack is shown.
    pub fn build(&self) -> Result<(Stack, Vec<Link>), ConfigError> {
        let stack = Stack::new().map_err(|e| ConfigError(format!("stack: {e}")))?;
        let mut peers = Vec::new();
        let mut down = Vec::new();
        let nic = |name: &str, peers: &mut Vec<Link>| -> Result<u32, ConfigError> {
            if let Some(i) = stack.ifindex(name) {
                return Ok(i);
            }
            let (ours, theirs) = Link::pipe();
            peers.push(theirs);
            stack
                .add_nic(name, ours)
                .map_err(|e| ConfigError(format!("nic {name}: {e}")))
        };
        for s in &self.stmts {
            match s {
                Stmt::Nic { name, mtu, down: d } => {
                    let i = nic(name, &mut peers)?;
                    if let Some(m) = mtu {
                        stack
                            .set_mtu(i, *m)
                            .map_err(|e| ConfigError(format!("nic {name} mtu {m}: {e}")))?;
                    }
                    if *d {
                        down.push(i);
                    }
                }
                Stmt::Addr {
                    nic: name,
                    addr,
                    prefix_len,
                } => {
                    let i = nic(name, &mut peers)?;
                    stack.add_address(i, *addr, *prefix_len).map_err(|e| {
                        ConfigError(format!("addr {name} {addr}/{prefix_len}: {e}"))
                    })?;
                }
                Stmt::Route { spec, dev } => {
                    let mut spec = spec.clone();
                    if let Some(d) = dev {
                        spec = spec.dev(nic(d, &mut peers)?);
                    }
                    stack.add_route(spec.clone()).map_err(|e| {
                        ConfigError(format!("route {}/{}: {e}", spec.dst, spec.prefix_len))
                    })?;
                }
            }
        }
        for i in down {
            stack
                .set_down(i)
                .map_err(|e| ConfigError(format!("set down {i}: {e}")))?;
        }
        Ok((stack, peers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_and_flags_say_the_same() {
        let c = Config::parse(
            "# test\nnic eth0 mtu 1400\naddr eth0 10.0.0.2/24\nroute default via 10.0.0.1\n\
             route 192.168.50.0/24 via 10.0.0.1 metric 100 # x\nroute -6 default dev eth0\n",
        )
        .unwrap();
        let mut f = Config::default();
        f.add_mtu_flag("eth0=1400").unwrap();
        f.add_addr_flag("eth0=10.0.0.2/24").unwrap();
        f.add_route_flag("default via 10.0.0.1").unwrap();
        f.add_route_flag("192.168.50.0/24 via 10.0.0.1 metric 100")
            .unwrap();
        f.add_route_flag("-6 default dev eth0").unwrap();
        assert_eq!(c, f);
        let (stack, peers) = c.build().unwrap();
        assert_eq!(peers.len(), 1);
        let eth0 = stack.ifindex("eth0").unwrap();
        assert_eq!(stack.interfaces()[1].mtu, 1400);
        assert!(stack
            .route_table()
            .iter()
            .any(|r| r.metric == 100 && r.oif == eth0 && r.prefix_len == 24));
    }

    #[test]
    fn mistakes_name_the_line() {
        let e = Config::parse("nic eth0\naddr eth0 10.0.0.300/24\n").unwrap_err();
        assert!(e.0.starts_with("line 2:"), "{e}");
        assert!(Config::parse("route default via").is_err());
        assert!(Config::parse("addr eth0 10.0.0.1/33").is_err());
        assert!(Config::parse("frobnicate").is_err());
    }
}
