"""Pure rules of volume-based procurement (集采): no database, no Flask, one module per topic.

- `agreement`: kinds, product statuses, agreement years and months, schedule and progress;
- `compliance`: the selected-vs-non-selected assessment;
- `supply`: working days, supply-problem deadlines and escalation;
- `prices`: payment-standard step-down, first self-pay, prepayment, prices paid.
"""
