#![allow(dead_code)]
pub mod kernel;
pub mod kernel_stats;
pub mod packets;
pub mod procnet_bed;
pub mod root;
