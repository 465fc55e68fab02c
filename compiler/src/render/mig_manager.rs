//! Stage not rendered yet.

use super::{Context, Out};
use crate::error::Error;

/// Render the stage.
pub fn render(_: &Context<'_>, _: &mut Out<'_>) -> Result<(), Error> {
    Ok(())
}
