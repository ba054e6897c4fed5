//! `bulkhead graph`: the domain graph of service.toml as Mermaid or DOT, on stdout. The
//! graph is the model's (`platform.graph`), the one docs/architecture.md embeds.

use std::io::Write;

use crate::cli::{GraphArgs, GraphFormat, Options};
use crate::error::{Error, ExitStatus};

pub fn run(global: &Options, args: &GraphArgs) -> Result<ExitStatus, Error> {
    let loaded = super::load(global)?;
    loaded.print_warnings();
    let graph = &loaded.model.platform.graph;
    let text = match args.format {
        GraphFormat::Mermaid => &graph.mermaid,
        GraphFormat::Dot => &graph.dot,
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::io(std::path::Path::new("<stdout>"), e))?;
    Ok(ExitStatus::Success)
}
