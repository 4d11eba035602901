"""The real-AWS smoke kit (playbooks/smoke/) never runs by accident: without the explicit opt-in it stops before
any AWS call. Its real run is opt-in and costs money, so no suite runs it."""

from conftest import state_changing_calls


def test_the_smoke_kit_refuses_to_run_without_the_cost_opt_in(simulator, run_playbook):
    simulator.control.reset_calls()

    for opt_in in ({}, {"i_understand_this_costs_money": "false"}, {"i_understand_this_costs_money": "no"}):
        result = run_playbook("smoke/failover_smoke.yml", dict(opt_in, smoke_availability_zone="us-east-1a"), fast=False)

        assert result.returncode != 0, result
        assert "i_understand_this_costs_money=true" in result.output
    assert simulator.control.call_log() == []
    assert state_changing_calls(simulator) == {}
