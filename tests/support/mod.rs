#![allow(dead_code)]
pub mod packets;
pub mod root;
