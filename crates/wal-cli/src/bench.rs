use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub quick: bool,
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn run(_args: &BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("bench: not built yet")
}
