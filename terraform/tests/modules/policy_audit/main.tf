# Test helper: audits IAM-style policy documents for wildcard grants. Used by
# tests/iam.tftest.hcl against the stack's iam_policy_documents output, and against
# deliberately bad documents to prove the audit catches them.

variable "documents" {
  description = "Policy documents (objects with a Statement list) by name; a value may also be a map of documents (e.g. one per Lambda)."
  type        = any
}

variable "wildcard_action_allowed" {
  description = "\"<document>/<Sid>\" entries allowed to grant an action containing '*'."
  type        = list(string)
  default     = []
}

variable "star_resource_allowed_actions" {
  description = "Actions that may be granted on Resource \"*\" (actions without resource-level permissions). A statement on \"*\" with any other action is flagged."
  type        = list(string)
  default     = []
}

variable "star_resource_allowed_documents" {
  description = "Documents where Resource \"*\" means \"this resource\" (key policies)."
  type        = list(string)
  default     = []
}

locals {
  # Nested maps of documents (lambda = { fn = doc }) become "lambda/fn".
  flat_documents = merge(
    { for name, doc in var.documents : name => doc if can(doc.Statement) },
    merge([
      for group, docs in var.documents : {
        for name, doc in docs : "${group}/${name}" => doc
      } if !can(docs.Statement)
    ]...)
  )

  statements = flatten([
    for name, doc in local.flat_documents : [
      for index, statement in doc.Statement : {
        id        = "${name}/${try(statement.Sid, tostring(index))}"
        document  = name
        sid       = try(statement.Sid, "")
        effect    = statement.Effect
        actions   = flatten([statement.Action])
        resources = flatten([try(statement.Resource, [])])
      }
    ]
  ])

  allow_statements = [for s in local.statements : s if s.effect == "Allow"]
}

output "statement_count" {
  description = "Number of statements audited."
  value       = length(local.statements)
}

output "wildcard_actions" {
  description = "Allow statements granting an action with '*' that are not explicitly allowed."
  value = [
    for s in local.allow_statements : s.id
    if anytrue([for a in s.actions : strcontains(a, "*")]) && !contains(var.wildcard_action_allowed, "${s.document}/${s.sid}")
  ]
}

output "unexpected_star_resources" {
  description = "Allow statements on Resource \"*\" with an action that is not allowed there (outside the allowed documents)."
  value = [
    for s in local.allow_statements : s.id
    if contains(s.resources, "*") && !contains(var.star_resource_allowed_documents, s.document) && !alltrue([for a in s.actions : contains(var.star_resource_allowed_actions, a)])
  ]
}
