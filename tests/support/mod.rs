//! Helpers shared by the test binaries; each uses some of them.
#![allow(dead_code)]

pub mod hooks;
pub mod s3;
