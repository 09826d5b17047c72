// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

import {IMarket} from "./IMarket.sol";
import {PackedWords} from "./libraries/PackedWords.sol";

/// @title ProsumerRegistry
/// @notice The market's permissioned registry: the roles, the admitted prosumers (meter ids,
/// zones, admission order, cumulative metering) and the zone hop-distance matrix.
/// @dev Inherited by `Market`, which adds the grid prices and the game. The hop matrix is stored
/// as sixteen uint16 distances per word, row-major.
abstract contract ProsumerRegistry is IMarket, AccessControl, ERC2771Context {
    using PackedWords for mapping(uint256 => uint256);

    /// @inheritdoc IMarket
    bytes32 public constant CLOCK_ROLE = keccak256("CLOCK_ROLE");
    /// @inheritdoc IMarket
    bytes32 public constant METER_ROLE = keccak256("METER_ROLE");
    /// @inheritdoc IMarket
    bytes32 public constant SETTLEMENT_ROLE = keccak256("SETTLEMENT_ROLE");

    mapping(address account => Prosumer) private _prosumers;
    mapping(bytes32 meterId => address) private _meterHolders;
    mapping(uint256 word => uint256) private _hopWords;
    uint32 private _admissionCount;
    uint16 private _zoneCount;
    uint16 private _zonesInUse;

    /// @param operator Receives `DEFAULT_ADMIN_ROLE` and grants the other roles.
    /// @param trustedForwarder The `GridForwarder` relaying signed requests.
    constructor(address operator, address trustedForwarder) ERC2771Context(trustedForwarder) {
        _grantRole(DEFAULT_ADMIN_ROLE, operator);
        _zoneCount = 1;
    }

    // =============================================================== operator

    /// @inheritdoc IMarket
    function admit(address account, bytes32 meterId, uint16 zone) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (account == address(0)) revert MarketInvalidProsumer(account);
        if (meterId == bytes32(0)) revert MarketZeroMeterId();
        Prosumer storage p = _prosumers[account];
        if (p.admitted) revert MarketAlreadyAdmitted(account);
        address holder = _meterHolders[meterId];
        if (holder != address(0) && holder != account) revert MarketMeterIdTaken(meterId, holder);
        if (zone >= _zoneCount) revert MarketZoneOutOfRange(zone, _zoneCount);

        if (p.meterId != meterId) {
            delete _meterHolders[p.meterId]; // a re-admitted prosumer moving to a new meter frees the old one
            _meterHolders[meterId] = account;
            p.meterId = meterId;
        }
        uint32 index = ++_admissionCount;
        p.zone = zone;
        p.admitted = true;
        p.admissionIndex = index;
        if (zone >= _zonesInUse) _zonesInUse = zone + 1;
        emit ProsumerAdmitted(account, meterId, zone, index);
    }

    /// @inheritdoc IMarket
    function revoke(address account) external onlyRole(DEFAULT_ADMIN_ROLE) {
        Prosumer storage p = _prosumers[account];
        if (!p.admitted) revert MarketNotAdmitted(account);
        p.admitted = false;
        emit ProsumerRevoked(account);
    }

    /// @inheritdoc IMarket
    function setHopDistances(uint16 count, uint16[] calldata distances) external onlyRole(DEFAULT_ADMIN_ROLE) {
        if (count == 0) revert MarketZeroZoneCount();
        if (count < _zonesInUse) revert MarketZonesInUse(count, _zonesInUse);
        uint256 n = count;
        if (distances.length != n * n) revert MarketHopDistancesLength(n * n, distances.length);
        for (uint256 i; i < n; ++i) {
            if (distances[i * n + i] != 0) revert MarketHopDistanceNonZeroDiagonal(i, distances[i * n + i]);
            for (uint256 j = i + 1; j < n; ++j) {
                if (distances[i * n + j] != distances[j * n + i]) revert MarketHopDistanceAsymmetric(i, j);
            }
        }
        _hopWords.storeU16s(distances);
        _zoneCount = count;
        emit HopDistancesSet(count, distances);
    }

    // =============================================================== settlement

    /// @inheritdoc IMarket
    function recordMetering(address account, uint256 producedWh, uint256 consumedWh)
        external
        onlyRole(SETTLEMENT_ROLE)
    {
        Prosumer storage p = _prosumers[account];
        if (p.admissionIndex == 0) revert MarketUnknownProsumer(account);
        uint256 max = type(uint96).max;
        if (producedWh > max - p.producedWh || consumedWh > max - p.consumedWh) {
            revert MarketMeteringOverflow(account, producedWh, consumedWh);
        }
        // Cannot overflow: both sums were just checked to stay within uint96 (so do the casts).
        p.producedWh = SafeCast.toUint96(p.producedWh + producedWh);
        p.consumedWh = SafeCast.toUint96(p.consumedWh + consumedWh);
        emit MeteringRecorded(account, producedWh, consumedWh);
    }

    // =============================================================== views

    /// @inheritdoc IMarket
    function prosumer(address account) external view returns (Prosumer memory) {
        return _prosumers[account];
    }

    /// @inheritdoc IMarket
    function meterHolder(bytes32 meterId) external view returns (address) {
        return _meterHolders[meterId];
    }

    /// @inheritdoc IMarket
    function admissionCount() external view returns (uint256) {
        return _admissionCount;
    }

    /// @inheritdoc IMarket
    function zoneCount() external view returns (uint256) {
        return _zoneCount;
    }

    /// @inheritdoc IMarket
    function hopDistance(uint256 from, uint256 to) public view returns (uint256) {
        uint256 n = _zoneCount;
        if (from >= n) revert MarketZoneOutOfRange(from, n);
        if (to >= n) revert MarketZoneOutOfRange(to, n);
        return _hopWords.u16At(from * n + to);
    }

    /// @inheritdoc IMarket
    function hopDistanceBetween(address a, address b) external view returns (uint256) {
        return hopDistance(_knownZone(a), _knownZone(b));
    }

    /// @inheritdoc IMarket
    function hopDistances() external view returns (uint16 count, uint16[] memory distances) {
        count = _zoneCount;
        uint256 nn = uint256(count) * count;
        distances = new uint16[](nn);
        for (uint256 k; k < nn; ++k) {
            distances[k] = uint16(_hopWords.u16At(k)); // u16At masks to 16 bits: it fits
        }
    }

    // =============================================================== internals

    /// @dev The record of `account` (all zero if never admitted).
    function _prosumer(address account) internal view returns (Prosumer storage) {
        return _prosumers[account];
    }

    /// @dev Reverts unless `account` is an admitted prosumer.
    function _checkAdmitted(address account) internal view {
        if (!_prosumers[account].admitted) revert MarketNotAdmitted(account);
    }

    /// @dev The zone of a prosumer that has a record.
    function _knownZone(address account) internal view returns (uint256) {
        Prosumer storage p = _prosumers[account];
        if (p.admissionIndex == 0) revert MarketUnknownProsumer(account);
        return p.zone;
    }

    // =============================================================== ERC-2771

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
