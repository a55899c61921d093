#![allow(dead_code)]
pub mod kernel;
pub mod packets;
pub mod root;
