#![allow(dead_code)]
pub mod data;
pub mod handshake;
pub mod kernel;
pub mod kernel_stats;
pub mod nl;
pub mod packets;
pub mod pair;
pub mod procnet_bed;
pub mod root;
