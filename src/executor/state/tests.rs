//! Exhaustive transition tests of the phase state machine.

use super::*;
use AbortMode::{LetInFlightFinish as Let, StopInFlight as Stop};

const SHAPE: PhaseShape = PhaseShape {
    batches: 3,
    hosts: 10,
    budget: FailureBudget::Count(2),
};

fn running(batch: usize, pause_requested: bool) -> PhaseState {
    PhaseState::Running {
        batch,
        pause_requested,
    }
}

fn aborting(batch: usize, mode: AbortMode) -> PhaseState {
    PhaseState::Aborting {
        batch,
        mode,
        reason: "op".into(),
    }
}

fn abort(mode: AbortMode) -> Input {
    Input::Abort {
        mode,
        reason: "op".into(),
    }
}

fn aborted(mode: AbortMode) -> PhaseEnding {
    PhaseEnding::Aborted {
        mode,
        reason: "op".into(),
    }
}

fn done(n: usize) -> Input {
    Input::BatchFinished { failed_so_far: n }
}

fn step(state: PhaseState, input: Input) -> (PhaseState, Vec<Effect>) {
    transition(state, input, &SHAPE)
}

fn all_states() -> Vec<PhaseState> {
    vec![
        PhaseState::Pending,
        running(0, false),
        running(1, true),
        running(2, false),
        PhaseState::Paused { next_batch: 1 },
        aborting(1, Let),
        aborting(1, Stop),
        PhaseState::Done(PhaseEnding::Completed),
        PhaseState::Done(aborted(Stop)),
    ]
}

fn all_inputs() -> Vec<Input> {
    vec![
        Input::Start,
        done(0),
        done(3),
        Input::Pause,
        Input::Resume,
        abort(Let),
        abort(Stop),
    ]
}

#[test]
fn start_runs_the_first_batch() {
    assert_eq!(
        step(PhaseState::Pending, Input::Start),
        (running(0, false), vec![Effect::StartBatch(0)])
    );
}

#[test]
fn start_with_no_batches_completes_at_once() {
    let shape = PhaseShape {
        batches: 0,
        hosts: 0,
        ..SHAPE
    };
    let (state, effects) = transition(PhaseState::Pending, Input::Start, &shape);
    assert_eq!(state, PhaseState::Done(PhaseEnding::Completed));
    assert_eq!(effects, vec![Effect::Finished(PhaseEnding::Completed)]);
    let (state, _) = transition(PhaseState::Pending, Input::Pause, &shape);
    assert_eq!(state, PhaseState::Pending, "nothing to pause before");
}

#[test]
fn barrier_moves_to_the_next_batch_within_budget() {
    assert_eq!(
        step(running(0, false), done(2)),
        (running(1, false), vec![Effect::StartBatch(1)])
    );
}

#[test]
fn last_batch_within_budget_completes() {
    let (state, effects) = step(running(2, true), done(0));
    assert_eq!(state, PhaseState::Done(PhaseEnding::Completed));
    assert_eq!(
        effects,
        vec![Effect::Finished(PhaseEnding::Completed)],
        "no pause after the last batch"
    );
}

#[test]
fn budget_exceeded_stops_before_the_next_batch() {
    let ending = PhaseEnding::BudgetExceeded {
        failed: 3,
        allowed: 2,
    };
    for state in [running(0, false), running(0, true), running(2, false)] {
        let (next, effects) = step(state, done(3));
        assert_eq!(next, PhaseState::Done(ending.clone()));
        assert_eq!(
            effects,
            vec![
                Effect::BudgetExceeded {
                    failed: 3,
                    allowed: 2
                },
                Effect::SkipPending,
                Effect::Finished(ending.clone()),
            ]
        );
    }
}

#[test]
fn percent_budget_uses_the_phase_host_count() {
    let shape = PhaseShape {
        batches: 13,
        hosts: 255,
        budget: FailureBudget::Percent(5),
    };
    let (state, _) = transition(running(0, false), done(12), &shape);
    assert_eq!(state, running(1, false));
    let (state, _) = transition(running(0, false), done(13), &shape);
    assert!(matches!(
        state,
        PhaseState::Done(PhaseEnding::BudgetExceeded { allowed: 12, .. })
    ));
}

#[test]
fn pause_holds_at_the_barrier_then_resume_starts_the_next_batch() {
    let (state, effects) = step(running(0, false), Input::Pause);
    assert_eq!((state.clone(), effects), (running(0, true), vec![]));
    let (state, effects) = step(state, done(0));
    assert_eq!(state, PhaseState::Paused { next_batch: 1 });
    assert_eq!(effects, vec![Effect::Paused { next_batch: 1 }]);
    let (state, effects) = step(state, Input::Resume);
    assert_eq!(state, running(1, false));
    assert_eq!(
        effects,
        vec![Effect::Resumed { next_batch: 1 }, Effect::StartBatch(1)]
    );
}

#[test]
fn resume_before_the_barrier_withdraws_the_pause() {
    let (state, effects) = step(running(1, true), Input::Resume);
    assert_eq!((state, effects), (running(1, false), vec![]));
}

#[test]
fn pause_before_start_holds_before_the_first_batch() {
    let (state, effects) = step(PhaseState::Pending, Input::Pause);
    assert_eq!(state, PhaseState::Paused { next_batch: 0 });
    assert_eq!(effects, vec![Effect::Paused { next_batch: 0 }]);
}

#[test]
fn budget_wins_over_a_pause_request() {
    let (state, _) = step(running(0, true), done(3));
    assert!(matches!(
        state,
        PhaseState::Done(PhaseEnding::BudgetExceeded { .. })
    ));
}

#[test]
fn abort_while_running_cancels_pending_and_waits_for_the_batch() {
    let (state, effects) = step(running(1, false), abort(Let));
    assert_eq!(state, aborting(1, Let));
    assert_eq!(
        effects,
        vec![
            Effect::Aborted {
                mode: Let,
                reason: "op".into()
            },
            Effect::CancelPending
        ]
    );
    let (state, effects) = step(state, done(0));
    assert_eq!(state, PhaseState::Done(aborted(Let)));
    assert_eq!(effects, vec![Effect::Finished(aborted(Let))]);
}

#[test]
fn abort_stop_in_flight_also_stops_running_hosts() {
    let (state, effects) = step(running(1, true), abort(Stop));
    assert_eq!(state, aborting(1, Stop));
    assert_eq!(
        effects,
        vec![
            Effect::Aborted {
                mode: Stop,
                reason: "op".into()
            },
            Effect::CancelPending,
            Effect::StopInFlight
        ]
    );
}

#[test]
fn abort_escalates_but_never_softens() {
    let (state, effects) = step(aborting(1, Let), abort(Stop));
    assert_eq!(state, aborting(1, Stop));
    assert!(effects.contains(&Effect::StopInFlight));
    assert_eq!(
        step(aborting(1, Stop), abort(Let)),
        (aborting(1, Stop), vec![])
    );
    assert_eq!(
        step(aborting(1, Let), abort(Let)),
        (aborting(1, Let), vec![])
    );
}

#[test]
fn abort_while_pending_or_paused_ends_at_once() {
    for state in [PhaseState::Pending, PhaseState::Paused { next_batch: 2 }] {
        for mode in [Let, Stop] {
            let (next, effects) = step(state.clone(), abort(mode));
            assert_eq!(next, PhaseState::Done(aborted(mode)));
            assert_eq!(
                effects,
                vec![
                    Effect::Aborted {
                        mode,
                        reason: "op".into()
                    },
                    Effect::CancelPending,
                    Effect::Finished(aborted(mode)),
                ]
            );
        }
    }
}

/// Every (state, input) pair not covered above must leave the state alone and do nothing.
#[test]
fn every_other_pair_is_a_no_op() {
    let mut changed = Vec::new();
    for state in all_states() {
        for input in all_inputs() {
            let (next, effects) = step(state.clone(), input.clone());
            if next != state || !effects.is_empty() {
                changed.push(format!("{state:?} + {input:?}"));
            }
        }
    }
    let expected = [
        "Pending + Start",
        "Pending + Pause",
        "Pending + Abort { mode: LetInFlightFinish, reason: \"op\" }",
        "Pending + Abort { mode: StopInFlight, reason: \"op\" }",
    ];
    for pair in expected {
        assert!(
            changed.iter().any(|c| c == pair),
            "{pair} should change the state"
        );
    }
    let no_ops: Vec<(PhaseState, Input)> = vec![
        (PhaseState::Pending, Input::Resume),
        (PhaseState::Pending, done(0)),
        (running(0, false), Input::Start),
        (running(1, true), Input::Pause),
        (running(0, false), Input::Resume),
        (PhaseState::Paused { next_batch: 1 }, Input::Start),
        (PhaseState::Paused { next_batch: 1 }, Input::Pause),
        (PhaseState::Paused { next_batch: 1 }, done(0)),
        (aborting(1, Let), Input::Start),
        (aborting(1, Let), Input::Pause),
        (aborting(1, Stop), Input::Resume),
    ];
    for (state, input) in no_ops {
        assert_eq!(
            step(state.clone(), input.clone()),
            (state, vec![]),
            "{input:?}"
        );
    }
    for state in [
        PhaseState::Done(PhaseEnding::Completed),
        PhaseState::Done(aborted(Stop)),
    ] {
        for input in all_inputs() {
            assert_eq!(step(state.clone(), input), (state.clone(), vec![]));
        }
    }
}

#[test]
fn machine_applies_inputs_in_sequence() {
    let mut machine = PhaseMachine::new(SHAPE);
    assert_eq!(machine.apply(Input::Start), vec![Effect::StartBatch(0)]);
    machine.apply(done(0));
    machine.apply(done(1));
    assert_eq!(machine.state(), &running(2, false));
    machine.apply(done(2));
    assert_eq!(machine.state(), &PhaseState::Done(PhaseEnding::Completed));
}
