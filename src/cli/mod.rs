//! The command line: argument definitions and their translation into the
//! library's settings ([`args`]), the subcommands ([`commands`]), progress
//! on stderr ([`progress`]) and Ctrl-C ([`interrupt`]). It parses,
//! configures and prints; it measures nothing itself.

mod args;
mod commands;
mod interrupt;
mod progress;

pub use args::Cli;
pub use commands::run;
