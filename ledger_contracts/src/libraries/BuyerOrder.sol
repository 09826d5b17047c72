// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title BuyerOrder
/// @notice Orders a game's buyers by contribution metric, production / consumption, highest
/// first, ties by admission order. Ratios are compared by cross-multiplication, never divided.
/// @dev Each buyer is one sort key: production (96 bits) | consumption (96) | admission index
/// (32) | registration index in the game (32). A prosumer with no metered consumption has an
/// infinite metric if it produced and a zero metric if it has no history; the key normalises
/// those to (1, 0) and (0, 1) so cross-multiplication stays a total order.
library BuyerOrder {
    uint256 private constant _U32 = 0xffffffff;
    uint256 private constant _U96 = 0xffffffffffffffffffffffff;

    /// @dev The sort key of a buyer. `producedWh` and `consumedWh` fit in 96 bits, the indices in 32.
    function key(uint256 producedWh, uint256 consumedWh, uint256 admissionIndex, uint256 registration)
        internal
        pure
        returns (uint256)
    {
        if (consumedWh == 0) (producedWh, consumedWh) = producedWh == 0 ? (0, 1) : (1, 0);
        return (producedWh << 160) | (consumedWh << 64) | (admissionIndex << 32) | registration;
    }

    /// @dev The buyer's registration index in the game, from its key.
    function registrationIndex(uint256 k) internal pure returns (uint256) {
        return k & _U32;
    }

    /// @dev Whether the buyer keyed `a` plays before the buyer keyed `b`: a higher metric, or an
    /// equal metric and an earlier admission. Keys of distinct prosumers are never tied.
    function precedes(uint256 a, uint256 b) internal pure returns (bool) {
        // Cannot overflow: each factor is below 2^96, so each product is below 2^192.
        unchecked {
            uint256 lhs = (a >> 160) * ((b >> 64) & _U96);
            uint256 rhs = (b >> 160) * ((a >> 64) & _U96);
            if (lhs != rhs) return lhs > rhs;
        }
        return ((a >> 32) & _U32) < ((b >> 32) & _U32);
    }

    /// @dev Sorts `keys` in place into playing order (heapsort: O(n log n), no recursion).
    function sort(uint256[] memory keys) internal pure {
        uint256 n = keys.length;
        if (n < 2) return;
        // Cannot overflow or underflow: every index stays within [0, n) and n >= 2.
        unchecked {
            for (uint256 start = n / 2; start > 0;) {
                --start;
                _siftDown(keys, start, n);
            }
            for (uint256 end = n - 1; end > 0; --end) {
                (keys[0], keys[end]) = (keys[end], keys[0]);
                _siftDown(keys, 0, end);
            }
        }
    }

    /// @dev Restores the heap property (the root plays last) below `root`, within [0, end).
    function _siftDown(uint256[] memory keys, uint256 root, uint256 end) private pure {
        // Cannot overflow: root < end <= keys.length, far below 2^255.
        unchecked {
            while (true) {
                uint256 child = 2 * root + 1;
                if (child >= end) return;
                if (child + 1 < end && precedes(keys[child], keys[child + 1])) ++child;
                if (!precedes(keys[root], keys[child])) return;
                (keys[root], keys[child]) = (keys[child], keys[root]);
                root = child;
            }
        }
    }
}
