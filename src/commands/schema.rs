//! `bulkhead schema`: the JSON Schema of service.toml on stdout, for editors. The schema
//! itself lives with the format (`spec::schema`); nothing is read here.

use crate::cli::Options;
use crate::error::{Error, ExitStatus};

pub fn run(_global: &Options) -> Result<ExitStatus, Error> {
    let schema = crate::spec::schema::json_schema();
    let mut text = serde_json::to_string_pretty(&schema)
        .map_err(|e| Error::Message(format!("cannot write the schema: {e}")))?;
    text.push('\n');
    super::write_stdout(text.as_bytes())?;
    Ok(ExitStatus::Success)
}
