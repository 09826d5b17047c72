// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IMarket} from "../../src/IMarket.sol";
import {Market} from "../../src/Market.sol";
import {MarketFixture} from "../utils/MarketFixture.sol";

/// @notice Operator and settlement functions: admission, grid configuration, roles, metering.
contract MarketAdminTest is MarketFixture {
    bytes32 internal constant METER = keccak256("meter-A");

    // ---------------------------------------------------------------- constructor and roles

    function test_constructor_setsRolesAndDefaults() public view {
        assertTrue(market.hasRole(market.DEFAULT_ADMIN_ROLE(), operator));
        assertFalse(market.hasRole(market.DEFAULT_ADMIN_ROLE(), address(this)));
        assertEq(market.trustedForwarder(), address(forwarder));
        assertEq(market.zoneCount(), 1);
        assertEq(market.transmissionFee(), 20_000);
        assertEq(market.CLOCK_ROLE(), keccak256("CLOCK_ROLE"));
        assertEq(market.METER_ROLE(), keccak256("METER_ROLE"));
        assertEq(market.SETTLEMENT_ROLE(), keccak256("SETTLEMENT_ROLE"));
        assertEq(market.MAX_AMOUNT_WH(), type(uint32).max);
    }

    function test_constructor_emitsDefaultTransmissionFee() public {
        vm.expectEmit();
        emit IMarket.TransmissionFeeSet(20_000);
        new Market(operator, address(forwarder));
    }

    function test_grantRole_byOperator() public {
        bytes32 meterRole = market.METER_ROLE();
        vm.prank(operator);
        market.grantRole(meterRole, stranger);
        assertTrue(market.hasRole(meterRole, stranger));
    }

    function test_grantRole_revertsWhenNotAdmin() public {
        bytes32 clockRole = market.CLOCK_ROLE();
        vm.expectRevert(_unauthorized(clock, market.DEFAULT_ADMIN_ROLE()));
        vm.prank(clock);
        market.grantRole(clockRole, stranger);
    }

    // ---------------------------------------------------------------- admit

    function test_admit_recordsProsumer() public {
        address account = makeAddr("A");
        vm.expectEmit(address(market));
        emit IMarket.ProsumerAdmitted(account, METER, 0, 1);
        vm.prank(operator);
        market.admit(account, METER, 0);

        IMarket.Prosumer memory p = market.prosumer(account);
        assertEq(p.meterId, METER);
        assertEq(p.zone, 0);
        assertTrue(p.admitted);
        assertEq(p.admissionIndex, 1);
        assertEq(p.producedWh, 0);
        assertEq(p.consumedWh, 0);
        assertEq(market.meterHolder(METER), account);
        assertEq(market.admissionCount(), 1);
    }

    function test_admit_countsAdmissions() public {
        _newProsumer(0);
        address second = _newProsumer(0);
        assertEq(market.prosumer(second).admissionIndex, 2);
        assertEq(market.admissionCount(), 2);
    }

    function test_admit_revertsWhenNotAdmin() public {
        vm.expectRevert(_unauthorized(stranger, market.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        market.admit(stranger, METER, 0);
    }

    function test_admit_revertsOnZeroAddress() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketInvalidProsumer.selector, address(0)));
        vm.prank(operator);
        market.admit(address(0), METER, 0);
    }

    function test_admit_revertsOnZeroMeterId() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZeroMeterId.selector));
        vm.prank(operator);
        market.admit(stranger, bytes32(0), 0);
    }

    function test_admit_revertsOnTakenMeterId() public {
        address holder = makeAddr("A");
        vm.startPrank(operator);
        market.admit(holder, METER, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketMeterIdTaken.selector, METER, holder));
        market.admit(stranger, METER, 0);
        vm.stopPrank();
    }

    function test_admit_revertsWhenAlreadyAdmitted() public {
        address account = _newProsumer(0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketAlreadyAdmitted.selector, account));
        vm.prank(operator);
        market.admit(account, keccak256("another meter"), 0);
    }

    function test_admit_revertsOnZoneOutOfRange() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZoneOutOfRange.selector, 1, 1));
        vm.prank(operator);
        market.admit(stranger, METER, 1);
    }

    function test_admit_readmitsRevokedProsumer() public {
        address account = makeAddr("A");
        bytes32 newMeter = keccak256("meter-B");
        vm.startPrank(operator);
        market.admit(account, METER, 0);
        market.revoke(account);
        market.admit(account, newMeter, 0);
        vm.stopPrank();

        IMarket.Prosumer memory p = market.prosumer(account);
        assertTrue(p.admitted);
        assertEq(p.admissionIndex, 2);
        assertEq(p.meterId, newMeter);
        assertEq(market.meterHolder(newMeter), account);
        assertEq(market.meterHolder(METER), address(0));
    }

    function test_admit_keepsMeterIdOfRevokedProsumer() public {
        address account = makeAddr("A");
        vm.startPrank(operator);
        market.admit(account, METER, 0);
        market.revoke(account);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketMeterIdTaken.selector, METER, account));
        market.admit(stranger, METER, 0);
        market.admit(account, METER, 0);
        vm.stopPrank();
        assertEq(market.meterHolder(METER), account);
    }

    // ---------------------------------------------------------------- revoke

    function test_revoke_clearsAdmission() public {
        address account = _newProsumer(0);
        vm.expectEmit(address(market));
        emit IMarket.ProsumerRevoked(account);
        vm.prank(operator);
        market.revoke(account);
        assertFalse(market.prosumer(account).admitted);
        assertEq(market.prosumer(account).admissionIndex, 1);
    }

    function test_revoke_refusesOffersAfterwards() public {
        address account = _newProsumer(0);
        uint256 gameId = _openGame();
        vm.prank(operator);
        market.revoke(account);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotAdmitted.selector, account));
        vm.prank(account);
        market.publishOffer(gameId, 1000, 1000);
    }

    function test_revoke_revertsWhenNotAdmin() public {
        address account = _newProsumer(0);
        vm.expectRevert(_unauthorized(clock, market.DEFAULT_ADMIN_ROLE()));
        vm.prank(clock);
        market.revoke(account);
    }

    function test_revoke_revertsWhenNotAdmitted() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketNotAdmitted.selector, stranger));
        vm.prank(operator);
        market.revoke(stranger);
    }

    // ---------------------------------------------------------------- hop distances

    function _threeZones() internal pure returns (uint16[] memory d) {
        // zones on a line: 0 - 1 - 2
        d = new uint16[](9);
        (d[1], d[2], d[3], d[5], d[6], d[7]) = (1, 2, 1, 1, 2, 1);
    }

    function test_setHopDistances_storesMatrix() public {
        uint16[] memory d = _threeZones();
        vm.expectEmit(address(market));
        emit IMarket.HopDistancesSet(3, d);
        vm.prank(operator);
        market.setHopDistances(3, d);

        assertEq(market.zoneCount(), 3);
        assertEq(market.hopDistance(0, 2), 2);
        assertEq(market.hopDistance(2, 1), 1);
        assertEq(market.hopDistance(1, 1), 0);
        (uint16 count, uint16[] memory stored) = market.hopDistances();
        assertEq(count, 3);
        assertEq(keccak256(abi.encode(stored)), keccak256(abi.encode(d)));
    }

    function test_setHopDistances_packsManyZones() public {
        uint16 n = 21; // 441 entries: spans 28 packed words
        uint16[] memory d = new uint16[](uint256(n) * n);
        for (uint256 i; i < n; ++i) {
            for (uint256 j; j < n; ++j) {
                d[i * n + j] = uint16(i > j ? i - j : j - i);
            }
        }
        vm.prank(operator);
        market.setHopDistances(n, d);
        assertEq(market.hopDistance(20, 0), 20);
        assertEq(market.hopDistance(3, 17), 14);
        (, uint16[] memory stored) = market.hopDistances();
        assertEq(keccak256(abi.encode(stored)), keccak256(abi.encode(d)));
    }

    function test_setHopDistances_revertsWhenNotAdmin() public {
        uint16[] memory d = _threeZones();
        vm.expectRevert(_unauthorized(stranger, market.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        market.setHopDistances(3, d);
    }

    function test_setHopDistances_revertsOnZeroZoneCount() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZeroZoneCount.selector));
        vm.prank(operator);
        market.setHopDistances(0, new uint16[](0));
    }

    function test_setHopDistances_revertsOnLengthMismatch() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketHopDistancesLength.selector, 4, 3));
        vm.prank(operator);
        market.setHopDistances(2, new uint16[](3));
    }

    function test_setHopDistances_revertsOnNonZeroDiagonal() public {
        uint16[] memory d = _threeZones();
        d[4] = 7; // zone 1 to itself
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketHopDistanceNonZeroDiagonal.selector, 1, 7));
        vm.prank(operator);
        market.setHopDistances(3, d);
    }

    function test_setHopDistances_revertsOnAsymmetry() public {
        uint16[] memory d = _threeZones();
        d[5] = 3; // 1 -> 2 differs from 2 -> 1
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketHopDistanceAsymmetric.selector, 1, 2));
        vm.prank(operator);
        market.setHopDistances(3, d);
    }

    function test_setHopDistances_revertsWhenZonesInUse() public {
        vm.startPrank(operator);
        market.setHopDistances(3, _threeZones());
        market.admit(stranger, METER, 2);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZonesInUse.selector, 2, 3));
        market.setHopDistances(2, new uint16[](4));
        vm.stopPrank();
    }

    function test_hopDistance_revertsOnZoneOutOfRange() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZoneOutOfRange.selector, 1, 1));
        market.hopDistance(0, 1);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketZoneOutOfRange.selector, 5, 1));
        market.hopDistance(5, 0);
    }

    function test_hopDistanceBetween_usesProsumerZones() public {
        vm.prank(operator);
        market.setHopDistances(3, _threeZones());
        address a = _newProsumer(0);
        address b = _newProsumer(2);
        assertEq(market.hopDistanceBetween(a, b), 2);
        assertEq(market.hopDistanceBetween(b, b), 0);
    }

    function test_hopDistanceBetween_revertsOnUnknownProsumer() public {
        address a = _newProsumer(0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownProsumer.selector, stranger));
        market.hopDistanceBetween(a, stranger);
    }

    // ---------------------------------------------------------------- grid prices and fee

    function test_setGridPrices_stores() public {
        vm.expectEmit(address(market));
        emit IMarket.GridPricesSet(400_000, 0);
        vm.prank(operator);
        market.setGridPrices(400_000, 0);
        (uint256 retail, uint256 feedIn) = market.gridPrices();
        assertEq(retail, 400_000);
        assertEq(feedIn, 0);
    }

    function test_setGridPrices_revertsWhenNotAdmin() public {
        vm.expectRevert(_unauthorized(clock, market.DEFAULT_ADMIN_ROLE()));
        vm.prank(clock);
        market.setGridPrices(2, 1);
    }

    function test_setGridPrices_revertsWhenFeedInNotBelowRetail() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketInvalidGridPrices.selector, 100, 100));
        vm.prank(operator);
        market.setGridPrices(100, 100);
    }

    function test_setGridPrices_revertsWhenRetailTooLarge() public {
        uint256 retail = uint256(type(uint64).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketInvalidGridPrices.selector, retail, 1));
        vm.prank(operator);
        market.setGridPrices(retail, 1);
    }

    function test_setTransmissionFee_stores() public {
        vm.expectEmit(address(market));
        emit IMarket.TransmissionFeeSet(0);
        vm.prank(operator);
        market.setTransmissionFee(0);
        assertEq(market.transmissionFee(), 0);
    }

    function test_setTransmissionFee_revertsWhenNotAdmin() public {
        vm.expectRevert(_unauthorized(stranger, market.DEFAULT_ADMIN_ROLE()));
        vm.prank(stranger);
        market.setTransmissionFee(1);
    }

    function test_setTransmissionFee_revertsWhenTooLarge() public {
        uint256 fee = uint256(type(uint64).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketPriceTooLarge.selector, fee, type(uint64).max));
        vm.prank(operator);
        market.setTransmissionFee(fee);
    }

    // ---------------------------------------------------------------- metering

    function test_recordMetering_accumulates() public {
        address account = _newProsumer(0);
        vm.startPrank(settlement);
        vm.expectEmit(address(market));
        emit IMarket.MeteringRecorded(account, 500, 200);
        market.recordMetering(account, 500, 200);
        market.recordMetering(account, 100, 0);
        vm.stopPrank();
        assertEq(market.prosumer(account).producedWh, 600);
        assertEq(market.prosumer(account).consumedWh, 200);
    }

    function test_recordMetering_acceptsRevokedProsumer() public {
        address account = _newProsumer(0);
        vm.prank(operator);
        market.revoke(account);
        vm.prank(settlement);
        market.recordMetering(account, 1, 2);
        assertEq(market.prosumer(account).consumedWh, 2);
    }

    function test_recordMetering_revertsWhenNotSettlement() public {
        address account = _newProsumer(0);
        bytes32 role = market.SETTLEMENT_ROLE();
        vm.expectRevert(_unauthorized(operator, role));
        vm.prank(operator);
        market.recordMetering(account, 1, 1);
        vm.expectRevert(_unauthorized(clock, role));
        vm.prank(clock);
        market.recordMetering(account, 1, 1);
    }

    function test_recordMetering_revertsOnUnknownProsumer() public {
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketUnknownProsumer.selector, stranger));
        vm.prank(settlement);
        market.recordMetering(stranger, 1, 1);
    }

    function test_recordMetering_revertsOnOverflow() public {
        address account = _newProsumer(0);
        uint256 max = type(uint96).max;
        vm.startPrank(settlement);
        market.recordMetering(account, max, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketMeteringOverflow.selector, account, 1, 0));
        market.recordMetering(account, 1, 0);
        vm.expectRevert(abi.encodeWithSelector(IMarket.MarketMeteringOverflow.selector, account, 0, type(uint256).max));
        market.recordMetering(account, 0, type(uint256).max);
        vm.stopPrank();
    }
}
