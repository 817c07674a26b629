/* outcome.c - reading a run's result: whether it counts as failed (core and reporter plugins). */
#include "common/outcome.h"

bool cm_run_failed(const struct oma_report *r)
{
	if (r->outcome == OMA_OUTCOME_SKIPPED)
		return false;
	return r->outcome != OMA_OUTCOME_SUCCESS || r->failed > 0 || r->exit_code != 0;
}
