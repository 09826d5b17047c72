// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../IMarket.sol";
import {PackedWords} from "./PackedWords.sol";

/// @title BidLoads
/// @notice The arithmetic of one bid on packed words: a bid vector and the sellers' loads and
/// capacities are uint32 lanes, eight sellers per word, so a bid touches O(sellers / 8) words.
/// @dev A seller's load is the sum of the current bids on it and never exceeds its capacity; both
/// invariants are kept here (and fuzzed by the market's invariant tests).
library BidLoads {
    using PackedWords for uint256;

    /// @dev Word number `w` of `amounts` packed as uint32 lanes (every amount is below 2^32).
    function packWord(uint256[] calldata amounts, uint256 w) internal pure returns (uint256 word) {
        uint256 first = w * PackedWords.U32_LANES;
        uint256 end = first + PackedWords.U32_LANES;
        if (end > amounts.length) end = amounts.length;
        for (uint256 j = first; j < end; ++j) {
            word = word.setU32(j - first, amounts[j]);
        }
    }

    /// @dev The load word number `w` once its sellers' bids change from `oldBids` to `newBids`, and
    /// the largest change of a bid entry; reverts with `MarketBidExceedsCapacity` if a load would
    /// exceed its seller's capacity. Lanes past the last seller are all zero and stay zero.
    function loadsAfter(uint256 w, uint256 oldBids, uint256 newBids, uint256 loads, uint256 capacities)
        internal
        pure
        returns (uint256 newLoads, uint256 change)
    {
        for (uint256 k; k < PackedWords.U32_LANES; ++k) {
            uint256 amount = newBids.getU32(k);
            uint256 old = oldBids.getU32(k);
            uint256 capacity = capacities.getU32(k);
            // Cannot underflow or overflow: a seller's load is the sum of the current bids on it and
            // never exceeds its capacity, so old <= load and others <= capacity; amount < 2^32 and
            // others + amount <= capacity < 2^32; w < 2^7.
            unchecked {
                uint256 others = loads.getU32(k) - old;
                if (amount > capacity - others) {
                    revert IMarket.MarketBidExceedsCapacity(w * PackedWords.U32_LANES + k, others + amount, capacity);
                }
                newLoads = newLoads.setU32(k, others + amount);
                uint256 delta = amount > old ? amount - old : old - amount;
                if (delta > change) change = delta;
            }
        }
    }
}
