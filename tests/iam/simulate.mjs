// Evaluates requests against identity policies with @cloud-copilot/iam-simulate
// (a maintained IAM evaluator: conditions, wildcards, ARN matching as AWS does).
// sparkhub writes no evaluator of its own.
//
// stdin: {"principals": {"<name>": [{"name": "...", "policy": {...}, "own": bool}]},
//         "requests": [{"id": "...", "principal": "<name>", "action": "...",
//                       "resource": "...", "context": {...}}],
//         "must_allow": ["<id>", ...]}
// stdout: {"results": {"<id>": "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | "Error: ..."},
//          "unneeded": [{"principal", "policy", "statement", "action"}]}
//
// "unneeded": every action of every Allow statement of the stack's own policies
// ("own": true) is removed in turn; when no request in must_allow turns from
// Allowed to denied, the stack grants that action for nothing.
import { runSimulation } from '@cloud-copilot/iam-simulate'

const ACCOUNT = '123456789012'

async function evaluate(policies, request) {
  const result = await runSimulation(
    {
      identityPolicies: policies.map((p) => ({ name: p.name, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        principal: `arn:aws:iam::${ACCOUNT}:role/${request.principal}`,
        action: request.action,
        resource: { resource: request.resource, accountId: ACCOUNT },
        contextVariables: request.context,
      },
    },
    {},
  )
  if (result.resultType === 'error') {
    return `Error: ${JSON.stringify(result.errors)}`
  }
  return result.overallResult
}

const input = JSON.parse(await new Promise((resolve) => {
  let text = ''
  process.stdin.on('data', (chunk) => { text += chunk })
  process.stdin.on('end', () => resolve(text))
}))

const results = {}
for (const request of input.requests) {
  results[request.id] = await evaluate(input.principals[request.principal] ?? [], request)
}

const unneeded = []
for (const [principal, policies] of Object.entries(input.principals)) {
  const needed = input.requests.filter(
    (r) => r.principal === principal && input.must_allow.includes(r.id) && results[r.id] === 'Allowed',
  )
  for (const [pi, policy] of policies.entries()) {
    if (!policy.own) continue
    const statements = [].concat(policy.policy.Statement)
    for (const [si, statement] of statements.entries()) {
      // A Deny grants nothing; test_iam.py shows each one holds against a grant.
      if (statement.Effect === 'Deny') continue
      const actions = [].concat(statement.Action)
      for (const action of actions) {
        const rest = actions.filter((a) => a !== action)
        const trimmed = statements
          .map((s, i) => (i !== si ? s : rest.length ? { ...s, Action: rest } : null))
          .filter((s) => s !== null)
        const variant = policies
          .map((p, i) => (i !== pi ? p : { ...p, policy: { ...p.policy, Statement: trimmed } }))
          .filter((p) => [].concat(p.policy.Statement).length > 0)
        let used = false
        for (const request of needed) {
          if ((await evaluate(variant, request)) !== 'Allowed') {
            used = true
            break
          }
        }
        if (!used) {
          unneeded.push({ principal, policy: policy.name, statement: statement.Sid ?? si, action })
        }
      }
    }
  }
}

process.stdout.write(JSON.stringify({ results, unneeded }))
