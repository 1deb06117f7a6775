"""Benchmark: the stored summaries' full rebuild against one GROUP BY over the same rows.

    .venv/bin/python bench/summaries_groupby.py --database carlit_bench_10k [--repeat 5]

bench/summaries_refresh.py takes both measurements (and the incremental refresh
against the full rebuild) in one run, in turns; this is its entry for bench/run.py.
The GROUP BY below is the floor for the main summary table: per disease and target
set, the studies, arms and patients, and the main outcome's and CRS's events over
evaluable, arm totals and patient rows alike, read from the live tables in one
statement. It skips what the rebuild must do on top (each study once from its latest
report, each person once, medians, the other tables), so the ratio is the price of
those rules and of storing the result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GROUP_BY = """
WITH arm_target AS (
    SELECT ap.arm_id, string_agg(DISTINCT g.code, '+' ORDER BY g.code) AS target_key
      FROM studies_armproduct ap
      JOIN studies_carconstruct_targets t ON t.carconstruct_id = ap.construct_id
      JOIN studies_antigen g ON g.id = t.antigen_id
     GROUP BY ap.arm_id
), subject AS (
    -- Every result and adverse event row with its arm, whether about the arm or a patient.
    SELECT coalesce(r.arm_id, p.arm_id) AS arm_id, 'result' AS kind, r.measure_id AS measure,
           NULL::integer AS grade, r.n_events, r.n_evaluable, r.value_bool,
           r.patient_id IS NOT NULL AS of_patient
      FROM studies_outcomeresult r LEFT JOIN studies_patient p ON p.id = r.patient_id
    UNION ALL
    SELECT coalesce(e.arm_id, p.arm_id), e.event_type, NULL, e.grade, e.n_affected,
           e.n_evaluable, NULL, e.patient_id IS NOT NULL
      FROM studies_adverseevent e LEFT JOIN studies_patient p ON p.id = e.patient_id
)
SELECT a.disease_id, coalesce(at.target_key, 'none') AS target_key,
       count(DISTINCT a.study_id) AS studies,
       count(DISTINCT a.id) AS arms,
       sum(s.n_events) FILTER (WHERE s.measure = d.main_outcome_id AND NOT s.of_patient)
         + count(*) FILTER (WHERE s.measure = d.main_outcome_id AND s.value_bool)
         AS responders,
       sum(s.n_evaluable) FILTER (WHERE s.measure = d.main_outcome_id AND NOT s.of_patient)
         + count(*) FILTER (WHERE s.measure = d.main_outcome_id AND s.of_patient)
         AS responders_evaluable,
       sum(s.n_events) FILTER (WHERE s.kind = 'crs' AND NOT s.of_patient
                                 AND coalesce(s.grade, 1) >= 1)
         + count(*) FILTER (WHERE s.kind = 'crs' AND s.of_patient AND s.grade >= 1)
         AS crs,
       count(*) FILTER (WHERE s.kind = 'crs' AND s.of_patient) AS crs_patients_evaluable
  FROM studies_arm a
  JOIN studies_disease d ON d.id = a.disease_id
  LEFT JOIN arm_target at ON at.arm_id = a.id
  LEFT JOIN subject s ON s.arm_id = a.id
 GROUP BY a.disease_id, coalesce(at.target_key, 'none')
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="A synthetic carlit_bench_<size>.")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--studies", type=int, default=0, help="(the database's size; unused)")
    arguments = parser.parse_args()

    from bench import summaries_refresh

    summaries_refresh.main(["--database", arguments.database, "--repeat", str(arguments.repeat)])


if __name__ == "__main__":
    main()
