// A Jenkins shared-library step: `albflipDeploy(target: 'green', strategy: 'canary', ...)` runs
// `albflip deploy`, archives its HTML report and NDJSON events, and turns albflip's exit code into the
// build's result. Put this folder (`vars/`) in a shared library (Manage Jenkins > Global Pipeline
// Libraries) and call it from a node with albflip on PATH (or `albflip: '/path/to/albflip'`).
//
//   def d = albflipDeploy(target: 'green', strategy: 'canary', canaryPercentage: 10, bake: '10m',
//                         credentialsId: 'prod-shop-deployer')
//   // d.code, d.deploymentId (null when no deployment started), d.settled
//
// Options: target (required), strategy, canaryPercentage, steps ('10,50,100'), bake, args (more flags,
// as one string), credentialsId (AWS keys through the CloudBees AWS Credentials binding; without it the
// agent's own credentials), albflip (the binary), name (file prefix, default 'albflip-deploy'),
// rollbackOnFailure (default true: when the build is failed here and this deployment did not finish by
// itself, `albflip rollback --deployment-id` puts its traffic back; it never touches another build's).
//
// Exit code -> build result:
//   0 SUCCESS (a canary awaiting promotion too) · 1 FAILURE (runtime error; nothing changed unless said)
//   2 FAILURE (bad input in the pipeline or albflip.toml) · 3 FAILURE (a gate failed; albflip rolled back)
//   4 NOT_BUILT (another deployment holds the listener, or the weights drifted; nothing written)
//   5 FAILURE (the rollback itself failed: page a human) · 130 ABORTED (albflip already put traffic back)

import groovy.transform.Field

@Field static final Map RESULTS = [
    1  : ['FAILURE',   'albflip hit a runtime error (AWS or state); nothing changed unless its message says so'],
    2  : ['FAILURE',   'albflip refused its input: fix the pipeline or albflip.toml'],
    3  : ['FAILURE',   'a gate failed and albflip rolled traffic back to the stable color (verified)'],
    4  : ['NOT_BUILT', 'another deployment holds this route, or someone changed the weights (see albflip status); nothing written'],
    5  : ['FAILURE',   'ROLLBACK FAILED: a human must act now (albflip status)'],
    130: ['ABORTED',   'interrupted: albflip put traffic back on the stable color'],
]

def call(Map opts = [:]) {
    if (!opts.target) {
        error('albflipDeploy: name the new color, e.g. albflipDeploy(target: "green")')
    }
    def name = opts.name ?: 'albflip-deploy'
    def idFile = "${name}.id"
    def flags = ["deploy", "--target ${opts.target}"]
    if (opts.strategy) { flags << "--strategy ${opts.strategy}" }
    if (opts.canaryPercentage != null) { flags << "--canary-percentage ${opts.canaryPercentage}" }
    if (opts.steps) { flags << "--steps ${opts.steps}" }
    if (opts.bake) { flags << "--bake ${opts.bake}" }
    flags << "--deployment-id-file ${idFile}" << "--events-file ${name}.ndjson" << "--report ${name}.html"
    if (opts.args) { flags << opts.args }

    def code = null
    def deploymentId = null
    try {
        code = albflipRun(opts, flags.join(' '))
    } finally {
        // The id exists only once a deployment started; an abort lands here too.
        if (fileExists(idFile)) {
            deploymentId = readFile(idFile).trim()
        }
        archiveArtifacts artifacts: "${name}.*", allowEmptyArchive: true
    }
    // Settled: completed, awaiting promotion (0), or already rolled back by albflip (3, 130).
    def settled = (code == 0 || code == 3 || code == 130)
    if (code != 0) {
        def (result, why) = RESULTS.get(code, ['FAILURE', "albflip deploy exited with ${code}"])
        if (!settled && deploymentId && opts.get('rollbackOnFailure', true)) {
            def back = albflipRun(opts, "rollback --deployment-id ${deploymentId}")
            echo(back == 0 ? "albflip rolled back deployment ${deploymentId}"
                           : "albflip rollback --deployment-id ${deploymentId} exited with ${back}")
            settled = (back == 0)
        }
        currentBuild.result = result
        error("albflip deploy (${deploymentId ?: 'no deployment started'}): ${why}")
    }
    return [code: code, deploymentId: deploymentId, settled: settled]
}

// Runs albflip with `args`, inside the AWS credentials binding when one is named; returns its exit code.
def albflipRun(Map opts, String args) {
    def bin = opts.albflip ?: 'albflip'
    def script = "\"${bin}\" ${args}"
    if (!opts.credentialsId) {
        return sh(returnStatus: true, script: script)
    }
    withCredentials([[$class: 'AmazonWebServicesCredentialsBinding', credentialsId: opts.credentialsId,
                      accessKeyVariable: 'AWS_ACCESS_KEY_ID', secretKeyVariable: 'AWS_SECRET_ACCESS_KEY']]) {
        return sh(returnStatus: true, script: script)
    }
}
