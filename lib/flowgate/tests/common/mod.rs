//! Helpers shared by the SDK's integration tests.

#![allow(dead_code)]

pub mod proxy;
