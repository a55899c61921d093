#![allow(dead_code)]
pub mod data;
pub mod kernel;
pub mod packets;
pub mod pair;
pub mod root;
