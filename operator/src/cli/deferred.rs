//! A subcommand's flags, declared to clap only when that subcommand is parsed (or its help is
//! printed).
//!
//! Input: an `Args` or `Subcommand` type. Output: the same type, wrapped ([`Deferred`]), whose
//! clap declarations are deferred with `Command::defer`.
//!
//! Why: clap's derive declares every flag of every subcommand before parsing any. With fifteen
//! commands that cost 0.56 M instructions at each start, a tenth of `gpuplan node diff`, though
//! a run uses one command's flags.

use std::ops::Deref;

use clap::{ArgMatches, Args, Command, Error, FromArgMatches, Subcommand};

/// `T`, its flags declared when its subcommand is parsed.
#[derive(Debug)]
pub struct Deferred<T>(pub T);

impl<T> Deref for Deferred<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: FromArgMatches> FromArgMatches for Deferred<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, Error> {
        T::from_arg_matches(matches).map(Deferred)
    }

    fn from_arg_matches_mut(matches: &mut ArgMatches) -> Result<Self, Error> {
        T::from_arg_matches_mut(matches).map(Deferred)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), Error> {
        self.0.update_from_arg_matches(matches)
    }

    fn update_from_arg_matches_mut(&mut self, matches: &mut ArgMatches) -> Result<(), Error> {
        self.0.update_from_arg_matches_mut(matches)
    }
}

impl<T: Args> Args for Deferred<T> {
    fn augment_args(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args_for_update))
    }

    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
}

impl<T: Subcommand> Subcommand for Deferred<T> {
    fn augment_subcommands(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_subcommands))
    }

    fn augment_subcommands_for_update(cmd: Command) -> Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_subcommands_for_update))
    }

    fn has_subcommand(name: &str) -> bool {
        T::has_subcommand(name)
    }
}

/// `augment` run on `cmd`, its description kept: declared eagerly, the type's own doc comment
/// comes first and the subcommand's (on the enum variant) replaces it; deferred, the type's
/// would come last.
fn keeping_about(cmd: Command, augment: fn(Command) -> Command) -> Command {
    let (about, long_about) = (cmd.get_about().cloned(), cmd.get_long_about().cloned());
    let cmd = augment(cmd);
    let cmd = match about {
        Some(about) => cmd.about(about),
        None => cmd.about(None::<&'static str>),
    };
    match long_about {
        Some(long_about) => cmd.long_about(long_about),
        None => cmd.long_about(None::<&'static str>),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;

    /// Said by the type.
    #[derive(Debug, clap::Args)]
    struct Flags {
        /// A flag.
        #[arg(long)]
        on: bool,
    }

    #[derive(Debug, Parser)]
    struct Eager {
        #[command(subcommand)]
        command: EagerCommand,
    }

    #[derive(Debug, clap::Subcommand)]
    enum EagerCommand {
        /// Said by the subcommand.
        Run(Flags),
    }

    #[derive(Debug, Parser)]
    struct Later {
        #[command(subcommand)]
        command: LaterCommand,
    }

    #[derive(Debug, clap::Subcommand)]
    enum LaterCommand {
        /// Said by the subcommand.
        Run(Deferred<Flags>),
    }

    fn help(mut command: Command, sub: &str) -> String {
        command.build();
        let sub = command.find_subcommand_mut(sub).expect("subcommand");
        sub.render_long_help().to_string().replace("later", "eager")
    }

    #[test]
    fn a_deferred_subcommand_parses_and_reads_as_one_declared_at_once() {
        let LaterCommand::Run(flags) = Later::parse_from(["later", "run", "--on"]).command;
        assert!(flags.on);
        assert!(Later::try_parse_from(["later", "run", "--off"]).is_err());
        assert_eq!(help(Later::command(), "run"), help(Eager::command(), "run"));
        let text = help(Later::command(), "run");
        assert!(text.starts_with("Said by the subcommand\n"), "{text}");
    }
}
