// A Jenkins shared-library step: `albflipRollback(deploymentId: d.deploymentId)` puts traffic back on
// the stable color, but only while the route records that deployment: albflip refuses with exit 4 (and
// writes nothing) when it records another build's. Without `deploymentId` it is the plain emergency
// rollback, whatever runs. Same options as albflipDeploy for the binary and the credentials.
//
// Returns albflip's exit code; 4 (another deployment) is a note in the log, any other failure fails
// the build.

def call(Map opts = [:]) {
    def args = 'rollback'
    if (opts.deploymentId) { args += " --deployment-id ${opts.deploymentId}" }
    if (opts.to) { args += " --to ${opts.to}" }
    def code = albflipDeploy.albflipRun(opts, args)
    if (code == 4 && opts.deploymentId) {
        echo("The route records another deployment than ${opts.deploymentId}: left alone.")
    } else if (code != 0) {
        currentBuild.result = 'FAILURE'
        error("the rollback exited with ${code}: a human must act (albflip status)")
    }
    return code
}
