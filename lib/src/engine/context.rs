//! One run of the step loop: what it acts on and where it stands, built once and passed to every step
//! and to every way out (failure, interruption, completion).

use crate::error::Error;
use crate::model::{Color, Split};
use crate::ports::{ApiError, Routes};
use crate::state::DeploymentRecord;

use super::{DeploySpec, Mode};

/// One run: the resolved routes, the spec, the kind of run, the test route, the deployment record
/// (none for a gated `shift`), and the split the routes hold now.
pub(super) struct Run<'r, R: Routes> {
    /// The named route and its lockstep peers, as the provider resolved them.
    pub(super) routes: &'r R,
    /// What the run does.
    pub(super) spec: &'r DeploySpec,
    /// Deployment, canary or gated shift.
    pub(super) mode: Mode,
    /// The test route, which follows the stable color whenever traffic goes back.
    pub(super) test: Option<&'r R::Test>,
    /// The deployment record written to the route's tags as the run goes.
    pub(super) record: Option<DeploymentRecord>,
    /// The split the routes should hold now: the live one at the start, then each verified step's.
    pub(super) expected: Split,
    /// Steps in the deployment, counting those done before a resume.
    pub(super) total: usize,
}

impl<'r, R: Routes> Run<'r, R> {
    /// A run over `routes` that starts from their live split, recording nothing yet.
    pub(super) fn new(
        routes: &'r R,
        spec: &'r DeploySpec,
        mode: Mode,
        test: Option<&'r R::Test>,
    ) -> Self {
        Run {
            routes,
            spec,
            mode,
            test,
            record: None,
            expected: routes.split(),
            total: 0,
        }
    }

    /// The same run, writing `record` as it goes.
    pub(super) fn recording(self, record: DeploymentRecord) -> Self {
        Run {
            record: Some(record),
            ..self
        }
    }

    /// The color traffic moves to.
    pub(super) fn new_color(&self) -> Color {
        self.spec.plan.target
    }

    /// The color traffic goes back to.
    pub(super) fn stable(&self) -> Color {
        self.routes.stable()
    }

    /// Whether hooks run: they belong to deployments, not to a single gated `shift`.
    pub(super) fn hooked(&self) -> bool {
        self.mode != Mode::Shift
    }

    /// Traffic is where it should be (the expected split) but its record could not be written.
    pub(super) fn tag_failed(&self, source: ApiError) -> Error {
        Error::TagFailed {
            split: self.expected.to_string(),
            resource: self.routes.names().id,
            color: self.new_color(),
            source: Box::new(source),
        }
    }
}
