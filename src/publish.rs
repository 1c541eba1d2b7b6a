//! Syncing a rendered site to S3 (to be built: issue 4).

use anyhow::{Result, bail};

use crate::config::PublishConfig;

/// What a publish did.
#[derive(Debug, Default)]
pub struct PublishReport {
    pub uploaded: usize,
    pub unchanged: usize,
    pub deleted: usize,
    pub seconds: f64,
}

impl PublishReport {
    pub fn summary_line(&self) -> String {
        format!(
            "uploaded {}, unchanged {}, deleted {} in {:.2} s",
            self.uploaded, self.unchanged, self.deleted, self.seconds
        )
    }
}

pub fn publish(cfg: &PublishConfig) -> Result<PublishReport> {
    bail!("publishing to s3://{} is not built yet", cfg.bucket)
}
