//! The gpuplan binary's library: the command line and all I/O around the pure compiler.

pub mod agent;
pub mod apply;
pub mod cli;
pub mod controller;
pub mod facts;
pub mod file;
pub mod transaction;
