//! The panel's misbehaviour: Viber's API failing the next sends, the phones mishandling the next
//! messages (the re-sent callback is in `posting`).

use super::state::{DeliveryFault, SendFault, State};
use super::{Simulator, now};

impl Simulator {
    pub fn add_send_faults(&self, fault: SendFault, count: usize) -> usize {
        let mut state = self.lock();
        let added = State::add_faults(&mut state.send_faults, fault, count);
        state.log(
            now(),
            format!("the next {added} send_message calls will fail ({fault:?})"),
        );
        added
    }

    pub fn add_delivery_faults(&self, fault: DeliveryFault, count: usize) -> usize {
        let mut state = self.lock();
        let added = State::add_faults(&mut state.delivery_faults, fault, count);
        state.log(
            now(),
            format!("the phones will mishandle the next {added} messages ({fault:?})"),
        );
        added
    }

    pub fn clear_faults(&self) {
        let mut state = self.lock();
        state.send_faults.clear();
        state.delivery_faults.clear();
        state.log(now(), "no more faults");
    }
}
