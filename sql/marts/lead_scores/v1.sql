/*
id: lead_scores
version: 1
title: Lead scores
description: Every lead's current score and grade per scoring model version (its latest successful run). lead_key relates to fact_lead.
key: [score_key]
sources: []
columns:
  score_key: String
  environment: String
  lead_key: String
  lead_id: UUID
  model: String
  version: Int64
  draft: Int64
  score: Float64
  grade: String
  stage: String
  as_of: DateTime('UTC')
  scored_at: DateTime('UTC')
*/
SELECT
    concat(toString(environment), '|', toString(model), '@v', toString(version), '|', toString(leadid)) AS score_key,
    toString(environment) AS environment,
    concat(toString(environment), '|', toString(leadid)) AS lead_key,
    leadid AS lead_id,
    toString(model) AS model,
    toInt64(version) AS version,
    toInt64(draft) AS draft,
    score,
    toString(grade) AS grade,
    toString(stage) AS stage,
    as_of,
    scored_at
FROM lead_score
