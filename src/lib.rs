//! envdash: `docker ps -a` listings of many environments in, a static status
//! dashboard out.
//!
//! The modules follow the data: [`discover`] finds the input files, [`parse`]
//! reads each (with [`status`] for Docker's STATUS text) into the [`model`],
//! [`site`] renders it through [`render`]'s templates with [`output`]'s atomic
//! writes, [`reports`] writes JUnit, Prometheus metrics and badges for the tools
//! around it, and [`publish`] syncs the result to S3. [`cli`] and [`config`] sit
//! around them.

pub mod alert;
pub mod cli;
pub mod config;
pub mod discover;
pub mod history;
pub mod model;
pub mod monitor;
pub mod output;
pub mod parse;
pub mod publish;
pub mod readfile;
pub mod reason;
pub mod render;
pub mod reports;
pub mod settings;
pub mod site;
pub mod status;
pub mod uptime;
pub mod versions;
pub mod view;
