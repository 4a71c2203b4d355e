//! Every point where a crash can strike a payment, replayed against a model of MobilePay.

use super::*;

/// A small model of MobilePay's payment rules, enough to replay a flow after a crash.
#[derive(Default, Clone)]
struct Model {
    payments: Vec<(String, PaymentState)>,
    keys: Vec<(String, String)>,
    captures: u32,
    creates: u32,
}

impl Model {
    fn answer(&mut self, call: &ApiCall) -> Result<Reply, BackendError> {
        match call {
            ApiCall::CreatePayment { key, .. } => {
                if let Some((_, id)) = self.keys.iter().find(|(k, _)| k == key) {
                    return Ok(Reply::Id(id.clone()));
                }
                self.creates += 1;
                let id = format!("pay-{}", self.payments.len() + 1);
                self.payments.push((id.clone(), PaymentState::WaitingForCustomer));
                self.keys.push((key.clone(), id.clone()));
                Ok(Reply::Id(id))
            }
            ApiCall::GetPayment { payment_id } => {
                let (_, status) = self.payments.iter_mut().find(|(id, _)| id == payment_id).unwrap();
                // The customer approves as soon as someone looks.
                if *status == PaymentState::WaitingForCustomer {
                    *status = reserved();
                }
                Ok(Reply::Payment(PaymentInfo {
                    payment_id: payment_id.clone(),
                    ..payment(status.clone())
                }))
            }
            ApiCall::Capture { payment_id, .. } => {
                let (_, status) = self.payments.iter_mut().find(|(id, _)| id == payment_id).unwrap();
                if status.is_reserved() {
                    self.captures += 1;
                    *status = captured();
                    Ok(Reply::Done)
                } else if *status == captured() {
                    Ok(Reply::Done)
                } else {
                    Err(refused(Refusal::NotCapturable))
                }
            }
            other => panic!("the model does not answer {other:?}"),
        }
    }
}

/// Kills the flow after every possible action (losing everything not made durable, as a power
/// cut would), restarts it from the durable record, and checks that the customer is charged
/// exactly once and every answer given before the crash is still the stored outcome.
#[test]
fn every_crash_point_of_a_payment_ends_in_exactly_one_capture() {
    // Count the actions of a clean run first.
    let clean_len = {
        let mut model = Model::default();
        let mut rec = record(pay_command(false));
        let mut n = 0;
        let mut input = Input::Start;
        loop {
            let actions = step(&mut rec, input, 0, &Policy::default());
            n += actions.len();
            match actions.last() {
                Some(Action::Call(c)) => input = Input::Reply(model.answer(c)),
                Some(Action::Sleep(_)) => input = Input::Timer,
                _ => break,
            }
        }
        n
    };
    assert!(clean_len > 5);
    for crash_after in 0..=clean_len {
        let mut model = Model::default();
        let mut rec = record(pay_command(false));
        let mut durable = rec.clone();
        let mut answer = None;
        let mut done = 0;
        let mut input = Input::Start;
        let mut crashed = false;
        // First life, killed after `crash_after` actions.
        'life: loop {
            let actions = step(&mut rec, input, 0, &Policy::default());
            let mut next = None;
            for action in actions {
                if done == crash_after {
                    crashed = true;
                    break 'life;
                }
                done += 1;
                match action {
                    Action::Persist { durable: true } => durable = rec.clone(),
                    Action::Answer(o) => answer = Some(o),
                    Action::Call(c) => next = Some(Input::Reply(model.answer(&c))),
                    Action::Sleep(_) => next = Some(Input::Timer),
                    _ => {}
                }
            }
            match next {
                Some(i) => input = i,
                None => break,
            }
        }
        // Second life from the durable record.
        let mut rec = durable;
        if let Some(given) = &answer {
            assert_eq!(rec.outcome.as_ref(), Some(given), "crash after {crash_after}");
        }
        if crashed && !rec.is_finished() {
            let mut input = Input::Start;
            loop {
                let actions = step(&mut rec, input, 0, &Policy::default());
                match actions.last() {
                    Some(Action::Call(c)) => input = Input::Reply(model.answer(c)),
                    Some(Action::Sleep(_)) => input = Input::Timer,
                    _ => break,
                }
            }
        }
        assert_eq!(model.creates, 1, "crash after {crash_after}");
        assert_eq!(model.captures, 1, "crash after {crash_after}");
        assert!(
            matches!(rec.outcome, Some(Outcome::Captured { .. })),
            "crash after {crash_after}"
        );
    }
}
